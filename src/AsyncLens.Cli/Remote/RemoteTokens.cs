using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Method tokens of another process's files resolved to the MetadataLoadContext's methods, which the context itself
/// does not do (<c>Module.ResolveMethod</c> throws there): a method of the module (MethodDef), a generic method's
/// instantiation (MethodSpec, its arguments decoded in the caller's generic context: <c>ProcessRequests&lt;!!0&gt;</c>
/// called from <c>ProcessRequestsAsync&lt;HostingApplication.Context&gt;</c>), and a method of another type (MemberRef,
/// found by name and signature). Enough for the engine's IL reader (<see cref="Symbols.IlReader.Calls"/>) to list the
/// calls of a method read from a file; anything else resolves to null.
/// </summary>
internal sealed class RemoteTokens(Func<Module, int, Type?> typeByToken, Func<string, Type?> typeByName) : IDisposable
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private readonly Dictionary<string, PEReader?> _readers = new(StringComparer.Ordinal);
    private readonly Func<Module, int, Type?> _typeByToken = typeByToken;
    private readonly Func<string, Type?> _typeByName = typeByName;

    public MethodBase? Resolve(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        try
        {
            return Reader(module) is { } reader ? Method(reader, module, MetadataTokens.EntityHandle(token), new Provider(this, module, typeArgs, methodArgs)) : null;
        }
        catch (Exception ex) when (ex is BadImageFormatException or ArgumentException or InvalidOperationException or NotSupportedException or TypeLoadException or IOException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        foreach (var reader in _readers.Values)
            reader?.Dispose();
    }

    private MetadataReader? Reader(Module module)
    {
        var path = module.FullyQualifiedName;
        if (!_readers.TryGetValue(path, out var pe))
        {
            try
            {
                pe = File.Exists(path) ? new PEReader(File.OpenRead(path)) : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or BadImageFormatException)
            {
                pe = null;
            }
            _readers[path] = pe;
        }
        return pe is { HasMetadata: true } ? pe.GetMetadataReader() : null;
    }

    private MethodBase? Method(MetadataReader reader, Module module, EntityHandle handle, Provider provider)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
                var definition = reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                return _typeByToken(module, MetadataTokens.GetToken(definition.GetDeclaringType())) is { } owner
                    ? owner.GetMethods(All).Cast<MethodBase>().Concat(owner.GetConstructors(All)).FirstOrDefault(m => m.MetadataToken == MetadataTokens.GetToken(handle))
                    : null;
            case HandleKind.MethodSpecification:
                var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                var args = spec.DecodeSignature(provider, null);
                return Method(reader, module, spec.Method, provider) is MethodInfo { IsGenericMethodDefinition: true } generic && args.All(a => a is not null)
                    ? generic.MakeGenericMethod([.. args!])
                    : null;
            case HandleKind.MemberReference:
                var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                if (member.GetKind() != MemberReferenceKind.Method)
                    return null;
                var parent = member.Parent.Kind switch
                {
                    HandleKind.TypeReference => provider.GetTypeFromReference(reader, (TypeReferenceHandle)member.Parent, 0),
                    HandleKind.TypeDefinition => provider.GetTypeFromDefinition(reader, (TypeDefinitionHandle)member.Parent, 0),
                    HandleKind.TypeSpecification => provider.GetTypeFromSpecification(reader, null, (TypeSpecificationHandle)member.Parent, 0),
                    _ => null,
                };
                if (parent is null)
                    return null;
                // By name and the number of parameters and generic parameters; several left alike: unresolved.
                var signature = member.DecodeMethodSignature(new Provider(this, module, null, null), null);
                var name = reader.GetString(member.Name);
                var candidates = parent.GetMethods(All).Cast<MethodBase>().Concat(parent.GetConstructors(All))
                    .Where(m => m.Name == name && m.GetParameters().Length == signature.RequiredParameterCount
                        && (m.IsGenericMethodDefinition ? m.GetGenericArguments().Length : 0) == signature.GenericParameterCount)
                    .Take(2).ToList();
                return candidates is [var only] ? only : null;
            default:
                return null;
        }
    }

    // Signature types as the context's types; null where one cannot be found (and whatever contains it).
    private sealed class Provider(RemoteTokens tokens, Module module, Type[]? typeArgs, Type[]? methodArgs) : ISignatureTypeProvider<Type?, object?>
    {
        public Type? GetPrimitiveType(PrimitiveTypeCode typeCode) => tokens._typeByName("System." + (typeCode switch
        {
            PrimitiveTypeCode.TypedReference => "TypedReference",
            PrimitiveTypeCode.IntPtr => "IntPtr",
            PrimitiveTypeCode.UIntPtr => "UIntPtr",
            _ => typeCode.ToString(),
        }));

        public Type? GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
            tokens._typeByToken(module, MetadataTokens.GetToken(handle));

        public Type? GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
            tokens._typeByName(FullName(reader, handle));

        public Type? GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        public Type? GetGenericInstantiation(Type? genericType, ImmutableArray<Type?> typeArguments) =>
            genericType is not null && typeArguments.All(a => a is not null) ? genericType.MakeGenericType([.. typeArguments!]) : null;

        public Type? GetGenericMethodParameter(object? genericContext, int index) =>
            methodArgs is not null && index < methodArgs.Length ? methodArgs[index] : null;

        public Type? GetGenericTypeParameter(object? genericContext, int index) =>
            typeArgs is not null && index < typeArgs.Length ? typeArgs[index] : null;

        public Type? GetSZArrayType(Type? elementType) => elementType?.MakeArrayType();

        public Type? GetArrayType(Type? elementType, ArrayShape shape) => elementType?.MakeArrayType(shape.Rank);

        public Type? GetByReferenceType(Type? elementType) => elementType?.MakeByRefType();

        public Type? GetPointerType(Type? elementType) => elementType?.MakePointerType();

        public Type? GetPinnedType(Type? elementType) => elementType;

        public Type? GetModifiedType(Type? modifier, Type? unmodifiedType, bool isRequired) => unmodifiedType;

        public Type? GetFunctionPointerType(MethodSignature<Type?> signature) => null;

        // Namespace.Outer+Inner, as the context looks types up.
        private static string FullName(MetadataReader reader, TypeReferenceHandle handle)
        {
            var type = reader.GetTypeReference(handle);
            var name = reader.GetString(type.Name);
            if (type.ResolutionScope.Kind == HandleKind.TypeReference)
                return FullName(reader, (TypeReferenceHandle)type.ResolutionScope) + "+" + name;
            var ns = reader.GetString(type.Namespace);
            return ns.Length > 0 ? ns + "." + name : name;
        }
    }
}
