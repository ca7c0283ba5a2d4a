using System.Collections.Immutable;
using System.Reflection;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Names and source lines for another process's code, from the files it loaded: its assemblies read as
/// metadata (a MetadataLoadContext: nothing of theirs runs here), so the engine's own name formatting
/// applies unchanged (<c>Shop.FetchUser(int)</c>, lambdas, local functions, generics), and their portable
/// PDBs (embedded or next to them) through the engine's symbol reader. A module whose file is gone (a dump
/// from another machine) still gets a name, from the runtime's type name, without lines. Generic code shared by
/// reference types reads as <c>System.__Canon</c> in the runtime's names: an exact instantiation is taken from an
/// object's own type (a box's type names its state machine exactly); where there is none, the definition's
/// parameters are shown (<c>HttpProtocol.ProcessRequests&lt;TContext&gt;</c>), never <c>__Canon</c>.
/// </summary>
internal sealed class RemoteSymbols : IDisposable
{
    private readonly MetadataLoadContext? _context;
    private readonly Dictionary<string, Assembly?> _assemblies = new(StringComparer.Ordinal);
    private readonly Dictionary<(ulong Module, string Name), Type?> _types = [];
    private readonly Dictionary<ulong, AwaitLines> _awaitLines = [];
    private readonly Dictionary<(string, int), string> _methodNames = [];
    private readonly Dictionary<string, string> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly string[] _paths = [];
    private readonly Dictionary<Assembly, Dictionary<int, Type>> _typesByToken = [];
    private RemoteTokens? _tokens;

    public RemoteSymbols(ClrRuntime runtime)
        : this(runtime.EnumerateModules().Where(m => !m.IsDynamic).Select(m => m.Name ?? ""))
    {
    }

    /// <summary>
    /// The names and lines of a process whose loaded modules are these files (<c>asynclens profile --pid</c> learns
    /// them from the runtime's events, with nothing stopped); more can be added with <see cref="AddModule"/>.
    /// </summary>
    public RemoteSymbols(IEnumerable<string> modulePaths)
    {
        var paths = modulePaths.Where(p => p.Length > 0 && File.Exists(p)).ToList();
        // The framework directory whole: parameter types come from assemblies the process may not have loaded.
        var coreLib = paths.FirstOrDefault(p => Path.GetFileName(p) == "System.Private.CoreLib.dll");
        if (coreLib is null)
            return;
        paths.AddRange(Directory.EnumerateFiles(Path.GetDirectoryName(coreLib)!, "*.dll"));
        foreach (var path in paths)
            _byName.TryAdd(Path.GetFileName(path), path);
        try
        {
            _paths = [.. _byName.Values];
            _context = new MetadataLoadContext(new KnownFiles(_byName), "System.Private.CoreLib");
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or FileLoadException)
        {
            _context = null;
        }
    }

    /// <summary>A module the process loaded later: its types can be named, and assemblies that reference it resolve it.</summary>
    public void AddModule(string path)
    {
        if (path.Length > 0 && File.Exists(path))
            _byName.TryAdd(Path.GetFileName(path), path);
    }

    /// <summary>Every type the module at <paramref name="path"/> defines (none when it cannot be read).</summary>
    public IEnumerable<Type> TypesIn(string path) => Assembly(path) is { } asm ? TypesOf(asm).Values : [];

    /// <summary>The async method a state machine type runs, as a person reads it: <c>Shop.FetchUser(int)</c>.</summary>
    /// <param name="stateMachine">Its type (module and token; its name may be shared code's), if known.</param>
    /// <param name="exactName">Its exact name (a box's type spells it), if known.</param>
    public string StateMachineName(ClrType? stateMachine, string? exactName)
    {
        var name = exactName ?? stateMachine?.Name;
        return stateMachine is not null && TypeOf(stateMachine, name) is { } type ? Try(() => MethodNames.ForStateMachine(type)) ?? Fallback(name) : Fallback(name);
    }

    /// <summary>True for the compiler's async entry point (<c>async Task Main</c>), which the main thread always waits for.</summary>
    public bool IsAsyncEntryPoint(ClrType stateMachine) =>
        TypeOf(stateMachine) is { } type && Try(() => MethodNames.Kickoff(type)) is { Name: "Main" or "<Main>$" } kickoff
        && kickoff.DeclaringType?.GetMethod("<Main>", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public) is not null;

    /// <summary>The line of the await a state machine of this type is parked at in <paramref name="state"/>.</summary>
    public SourceLine? AwaitLine(ClrType stateMachine, int state)
    {
        if (!_awaitLines.TryGetValue(stateMachine.MethodTable, out var lines))
            _awaitLines[stateMachine.MethodTable] = lines = AwaitLines.Of(stateMachine);
        return lines.At(state);
    }

    /// <summary>A method's name as the engine formats it, or the runtime's signature when its file cannot be read.</summary>
    public string MethodName(ClrMethod method)
    {
        var module = method.Type?.Module?.Name ?? "";
        var key = (module, method.MetadataToken);
        if (_methodNames.TryGetValue(key, out var name))
            return name;
        var resolved = method.Type is { } owner && TypeOf(owner) is { } type ? MethodByToken(type, method.MetadataToken) : null;
        name = resolved is not null ? Try(() => MethodNames.Format(resolved)) ?? Signature(method) : Signature(method);
        _methodNames[key] = name;
        return name;
    }

    /// <summary>
    /// True unless the method's metadata says it is not compiled as runtime async (.NET 11): a chain's frame whose
    /// method is not is the runtime's thunk awaiting what a Task-returning method returned (see <see cref="RuntimeAsyncLayout.AsyncMethodImpl"/>).
    /// </summary>
    public bool IsRuntimeAsync(ClrMethod method)
    {
        var resolved = method.Type is { } owner && TypeOf(owner) is { } type ? MethodByToken(type, method.MetadataToken) : null;
        try
        {
            return resolved is null || ((int)resolved.MethodImplementationFlags & RuntimeAsyncLayout.AsyncMethodImpl) != 0;
        }
        catch (Exception ex) when (ex is FileNotFoundException or TypeLoadException or BadImageFormatException or NotSupportedException)
        {
            return true;
        }
    }

    /// <summary>The source line of an IL offset in a method, from its module's PDB.</summary>
    public static SourceLine? LineAt(ClrMethod method, int ilOffset) =>
        method.Type?.Module?.Name is { Length: > 0 } module ? LineAt(module, method.MetadataToken, ilOffset) : null;

    /// <inheritdoc cref="LineAt(ClrMethod, int)"/>
    internal static SourceLine? LineAt(string module, int methodToken, int ilOffset) =>
        ilOffset >= 0 && AssemblySymbols.ForFile(module)?.SequencePoints(methodToken)?.At(ilOffset) is { } at ? new SourceLine(at.File, at.Line) : null;

    /// <summary>The IL offset of the instruction at a code address of a method (negative: its prolog, epilog or no IL).</summary>
    public static int ILOffsetAt(ClrMethod method, ulong address) => ILOffsetAt(method.ILOffsetMap, address) ?? method.GetILOffset(address);

    /// <summary>
    /// The runtime's map gives the native code of each IL offset as a range that ends where the next one starts: the end
    /// is not part of it. ClrMD's own lookup counts it in, so an address that starts a range got the offset of the code
    /// before it: a thread caught at a loop's head (where its backward jump lands) was read at the line above the loop.
    /// </summary>
    internal static int? ILOffsetAt(ImmutableArray<ILToNativeMap> map, ulong address)
    {
        if (map.IsDefault)
            return null;
        foreach (var range in map)
        {
            if (range.StartAddress <= address && address < range.EndAddress)
                return range.ILOffset;
        }
        return null;
    }

    /// <summary>A type as C# spells it (<c>CustomAwaiter</c>), for awaited things AsyncLens has no name for.</summary>
    public string TypeName(ClrType type) =>
        TypeOf(type) is { } t ? Try(() => TypeNames.Format(t)) ?? Short(type.Name) : Short(type.Name);

    /// <summary>The method a ClrMethod is, as its file defines it (a generic one's definition), or null.</summary>
    public MethodBase? MethodOf(ClrMethod method) =>
        method.Type is { } owner && TypeOf(owner) is { } type ? MethodByToken(type, method.MetadataToken) : null;

    /// <summary>An object's exact type, as the files define it (instantiated as its runtime name says), or null.</summary>
    public Type? ExactType(ClrType type) => TypeOf(type);

    /// <summary>A method's name with the generic arguments <paramref name="context"/> binds, as the engine formats it.</summary>
    public string? MethodName(MethodBase method, GenericContext context) => Try(() => MethodNames.Format(method, context));

    /// <summary>Resolves the call tokens of these files' methods, which the MetadataLoadContext does not (<see cref="RemoteTokens"/>).</summary>
    public MethodResolver Resolver => (_tokens ??= new RemoteTokens((m, token) => TypeByToken(m.Assembly, token), Find)).Resolve;

    public void Dispose()
    {
        _tokens?.Dispose();
        _context?.Dispose();
    }

    // The type by its module and token, instantiated as its runtime name says (the definition where it cannot be).
    private Type? TypeOf(ClrType clrType, string? name = null)
    {
        name ??= clrType.Name ?? "";
        var key = (clrType.Module?.Address ?? 0, name);
        if (_types.TryGetValue(key, out var known))
            return known;
        Type? type = null;
        if (clrType.Module?.Name is { Length: > 0 } module && Assembly(module) is { } asm)
        {
            type = TypeByToken(asm, clrType.MetadataToken);
            if (type is { IsGenericTypeDefinition: true } definition && RemoteTypeNames.Parse(name).Arguments is { Count: > 0 } names)
            {
                var args = names.Select(ByName).ToArray();
                if (args.Length == definition.GetGenericArguments().Length && args.All(a => a is not null))
                    type = Try(() => definition.MakeGenericType(args!)) ?? definition;
            }
        }
        _types[key] = type;
        return type;
    }

    // A type argument by its runtime name, looked for in every assembly of the process; never shared code's __Canon.
    private Type? ByName(string name)
    {
        if (_context is null || name == RemoteTypeNames.Canon)
            return null;
        var (definition, arguments, array) = RemoteTypeNames.Parse(name);
        if (array.Length > 0)
            return ByName(name[..^array.Length]) is { } element ? Try(() => array == "[]" ? element.MakeArrayType() : element.MakeArrayType(array.Length - 1)) : null;
        if (arguments.Count > 0)
        {
            var open = Find(definition);
            var args = arguments.Select(ByName).ToArray();
            return open is not null && args.All(a => a is not null) ? Try(() => open.MakeGenericType(args!)) : null;
        }
        return Find(definition);
    }

    private Type? Find(string name)
    {
        if (_context is null)
            return null;
        foreach (var asm in _context.GetAssemblies())
        {
            if (Try(() => asm.GetType(name)) is { } found)
                return found;
        }
        foreach (var path in _paths)
        {
            if (Assembly(path) is { } asm && Try(() => asm.GetType(name)) is { } found)
                return found;
        }
        return null;
    }

    // A MetadataLoadContext resolves no tokens: each assembly's types are indexed by token once.
    private Type? TypeByToken(Assembly asm, int token) => TypesOf(asm).GetValueOrDefault(token);

    private Dictionary<int, Type> TypesOf(Assembly asm)
    {
        if (!_typesByToken.TryGetValue(asm, out var types))
        {
            Type?[] all;
            try
            {
                all = asm.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                all = ex.Types;
            }
            catch (Exception ex) when (ex is IOException or BadImageFormatException or FileLoadException or TypeLoadException)
            {
                all = [];
            }
            _typesByToken[asm] = types = [];
            foreach (var t in all)
            {
                if (t is not null)
                    types[t.MetadataToken] = t;
            }
        }
        return types;
    }

    private static MethodBase? MethodByToken(Type type, int token)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var definition = type.IsGenericType && !type.IsGenericTypeDefinition ? type.GetGenericTypeDefinition() : type;
        return Try(() => definition.GetMethods(all).Cast<MethodBase>().Concat(definition.GetConstructors(all)).FirstOrDefault(m => m.MetadataToken == token));
    }

    private Assembly? Assembly(string path)
    {
        if (_context is null || path.Length == 0)
            return null;
        if (!_assemblies.TryGetValue(path, out var asm))
            _assemblies[path] = asm = Try(() => _context.LoadFromAssemblyPath(path));
        return asm;
    }

    /// <summary>What a read of metadata gives, or null when the file or the type cannot be read (a missing reference, a bad image).</summary>
    internal static T? Try<T>(Func<T?> read) where T : class
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or FileLoadException or TypeLoadException
            or ArgumentException or InvalidOperationException or NotSupportedException or MissingMethodException)
        {
            return null;
        }
    }

    // "Shop+<FetchUser>d__3" -> "Shop.FetchUser": the name at least, when the file cannot be read.
    private static string Fallback(string? runtimeName)
    {
        if (runtimeName is null)
            return "(unknown)";
        var typeName = RuntimeNames.Definition(runtimeName);
        var plus = typeName.LastIndexOf('+');
        var generated = plus >= 0 ? typeName[(plus + 1)..] : typeName;
        var owner = plus >= 0 ? Short(typeName[..plus]) : "";
        var close = MethodNames.ClosingBracket(generated);
        var method = close > 1 ? generated[1..close] : generated;
        return owner.Length > 0 ? $"{owner}.{method}" : method;
    }

    // The runtime's own spelling, shared code's System.__Canon arguments left out (they name no type anybody wrote).
    private static string Signature(ClrMethod method) =>
        System.Text.RegularExpressions.Regex.Replace(method.Signature ?? method.Name ?? "(unknown method)", @"\[\[System\.__Canon[^\]]*\]\]|System\.__Canon", "");

    // The name without its namespace; generic arguments kept as the runtime spells them.
    private static string Short(string? name)
    {
        if (name is null)
            return "(unknown)";
        var angle = name.IndexOf('<');
        var head = angle >= 0 ? name[..angle] : name;
        var dot = head.LastIndexOf('.');
        return (dot >= 0 ? name[(dot + 1)..] : name).Replace('+', '.');
    }

    /// <summary>The line of each await of one state machine type (state N parks at the N-th).</summary>
    private sealed class AwaitLines(AwaitOffsets[] awaits, SequencePointTable? lines)
    {
        public SourceLine? At(int state) =>
            state >= 0 && state < awaits.Length && lines?.At(awaits[state].YieldOffset) is { } at ? new SourceLine(at.File, at.Line) : null;

        public static AwaitLines Of(ClrType stateMachine)
        {
            var moveNext = stateMachine.Methods.FirstOrDefault(m => m.Name == "MoveNext");
            if (moveNext is null || stateMachine.Module?.Name is not { Length: > 0 } module || AssemblySymbols.ForFile(module) is not { } symbols)
                return new AwaitLines([], null);
            return new AwaitLines(symbols.AsyncStepping(moveNext.MetadataToken) ?? [], symbols.SequencePoints(moveNext.MetadataToken));
        }
    }

    /// <summary>Resolves an assembly reference by file name among the process's files (which <see cref="AddModule"/> can add to).</summary>
    private sealed class KnownFiles(Dictionary<string, string> byName) : MetadataAssemblyResolver
    {
        public override Assembly? Resolve(MetadataLoadContext context, AssemblyName assemblyName) =>
            assemblyName.Name is { } name && byName.TryGetValue(name + ".dll", out var path) ? context.LoadFromAssemblyPath(path) : null;
    }
}
