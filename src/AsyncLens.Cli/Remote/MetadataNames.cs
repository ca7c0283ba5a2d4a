using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using AsyncLens.Symbols;

namespace AsyncLens.Cli.Remote;

/// <summary>What an IL token of a module names, read from its file's metadata (the target's code is not loaded here).</summary>
internal static class MetadataNames
{
    /// <summary>The field or method the token names, with its declaring type's full name; null for other tokens.</summary>
    public static IlMember? Member(MetadataReader metadata, int token)
    {
        var handle = MetadataTokens.EntityHandle(token);
        switch (handle.Kind)
        {
            case HandleKind.FieldDefinition:
                var field = metadata.GetFieldDefinition((FieldDefinitionHandle)handle);
                return new IlMember(TypeName(metadata, field.GetDeclaringType()), metadata.GetString(field.Name));
            case HandleKind.MethodDefinition:
                var method = metadata.GetMethodDefinition((MethodDefinitionHandle)handle);
                return new IlMember(TypeName(metadata, method.GetDeclaringType()), metadata.GetString(method.Name), ParameterCount(metadata, method.Signature));
            case HandleKind.MemberReference:
                var member = metadata.GetMemberReference((MemberReferenceHandle)handle);
                var parameters = member.GetKind() == MemberReferenceKind.Method ? ParameterCount(metadata, member.Signature) : 0;
                return new IlMember(TypeName(metadata, member.Parent), metadata.GetString(member.Name), parameters);
            default:
                return null;
        }
    }

    // Namespace.Type, nested types joined by '+'; a generic instantiation by its definition's name.
    private static string TypeName(MetadataReader metadata, EntityHandle type)
    {
        switch (type.Kind)
        {
            case HandleKind.TypeDefinition:
                var definition = metadata.GetTypeDefinition((TypeDefinitionHandle)type);
                var outer = definition.GetDeclaringType();
                return outer.IsNil ? Join(metadata.GetString(definition.Namespace), metadata.GetString(definition.Name))
                    : TypeName(metadata, outer) + "+" + metadata.GetString(definition.Name);
            case HandleKind.TypeReference:
                var reference = metadata.GetTypeReference((TypeReferenceHandle)type);
                return reference.ResolutionScope.Kind == HandleKind.TypeReference
                    ? TypeName(metadata, reference.ResolutionScope) + "+" + metadata.GetString(reference.Name)
                    : Join(metadata.GetString(reference.Namespace), metadata.GetString(reference.Name));
            case HandleKind.TypeSpecification:
                var blob = metadata.GetBlobReader(metadata.GetTypeSpecification((TypeSpecificationHandle)type).Signature);
                // GENERICINST (CLASS|VALUETYPE) TypeDefOrRef ...: the definition is what names it.
                if (blob.ReadSignatureTypeCode() == SignatureTypeCode.GenericTypeInstance)
                {
                    blob.ReadSignatureTypeCode();
                    return TypeName(metadata, blob.ReadTypeHandle());
                }
                return "";
            default:
                return "";
        }
    }

    private static string Join(string ns, string name) => ns.Length == 0 ? name : ns + "." + name;

    private static int ParameterCount(MetadataReader metadata, BlobHandle signature)
    {
        var blob = metadata.GetBlobReader(signature);
        var header = blob.ReadSignatureHeader();
        if (header.IsGeneric)
            blob.ReadCompressedInteger();
        return blob.ReadCompressedInteger();
    }
}
