using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace AsyncLens.Symbols;

/// <summary>
/// Method names as a person reads them: <c>Shop.FetchUser(int)</c>, not <c>&lt;FetchUser&gt;d__3.MoveNext()</c>;
/// a lambda by the method that contains it and its line, <c>Program.Main lambda at Program.cs:31</c> (a minimal-API
/// handler by its route, <c>GET /product/{id}</c>, when the app's endpoints say so: <see cref="HandlerRoutes"/>);
/// <c>Program.Main(string[])+Local(int)</c> for a local function. The one naming of the profiler, the reports and the dumps.
/// </summary>
internal static class MethodNames
{
    private static readonly ConcurrentDictionary<Type, MethodBase?> s_kickoffs = new();
    private static readonly ConcurrentDictionary<MethodBase, string> s_lambdas = new();

    /// <summary>
    /// A name to print on one line of a dump: past <paramref name="max"/> characters (a package's generic plumbing,
    /// <c>RetryResilienceStrategy&lt;object&gt;.ExecuteCore&lt;(Func&lt;ResilienceContext, (PipelineComponent, ...</c>, 800
    /// characters) what is nested two brackets deep becomes <c>…</c>, then one deep: <c>ExecuteCore&lt;(…)&gt;(Func&lt;…&gt;,
    /// ResilienceContext, (…))</c>. The full name stays in JSON.
    /// </summary>
    public static string Compact(string name, int max = 200)
    {
        for (var depth = 2; depth >= 1 && name.Length > max; depth--)
            name = Collapse(name, depth);
        return name;
    }

    // What is inside brackets opened `depth` deep, as "…".
    private static string Collapse(string name, int depth)
    {
        var sb = new StringBuilder(name.Length);
        var level = 0;
        foreach (var c in name)
        {
            if (c is '<' or '(' or '[')
            {
                level++;
                if (level <= depth)
                    sb.Append(c);
                if (level == depth)
                    sb.Append('…');
            }
            else if (c is '>' or ')' or ']')
            {
                if (level <= depth)
                    sb.Append(c);
                level = Math.Max(0, level - 1);
            }
            else if (level < depth)
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    public static string Format(MethodBase method, GenericContext context = default)
    {
        if (method.Name == "MoveNext" && method.DeclaringType is { } sm && IsStateMachine(sm))
            return ForStateMachine(sm);

        var name = method.Name;
        var owner = method.DeclaringType;
        if (name.StartsWith('<') && owner is not null && ParseGeneratedName(name) is { } generated)
        {
            var outer = owner;
            while (outer.DeclaringType is not null && outer.Name.StartsWith('<'))
                outer = outer.DeclaringType;
            if (generated.LocalFunction is not { } local)
                return HandlerRoutes.Of(method) ?? s_lambdas.GetOrAdd(method, static (lambda, parent) => Lambda(lambda, parent), (outer, generated.Parent));
            var parent = FindSingle(outer, generated.Parent) is { } p ? Format(p) : $"{TypeNames.Format(outer)}.{generated.Parent}";
            return $"{parent}+{local}({Parameters(method, context)})";
        }

        // Top-level statements compile to Program.<Main>$: people wrote no method name, but think of it as Main.
        if (name == "<Main>$")
            name = "Main";
        var sb = new StringBuilder();
        if (owner is not null)
            TypeNames.Append(sb, owner, context);
        sb.Append('.').Append(name);
        if (method.IsGenericMethod)
        {
            sb.Append('<');
            var args = method.GetGenericArguments();
            for (var i = 0; i < args.Length; i++)
            {
                if (i > 0)
                    sb.Append(", ");
                TypeNames.Append(sb, args[i], context);
            }
            sb.Append('>');
        }
        sb.Append('(').Append(Parameters(method, context)).Append(')');
        return sb.ToString();
    }

    /// <summary>
    /// The first line of a method's body: for an async method (or async lambda), of its state machine's MoveNext, where
    /// its code is; null without a PDB.
    /// </summary>
    public static SourceLocation? FirstLine(MethodBase method)
    {
        try
        {
            if (StateMachineOf(method) is { } stateMachine)
                return FirstLine(stateMachine);
            return MethodSymbols.Lines(method)?.AtOrAfter(0);
        }
        catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null;
        }
    }

    /// <summary>The first line of the body a state machine runs (its MoveNext's first visible sequence point).</summary>
    public static SourceLocation? FirstLine(Type stateMachine) =>
        stateMachine.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes) is { } moveNext
            ? MethodSymbols.Lines(moveNext)?.AtOrAfter(0)
            : null;

    /// <summary>The name of the async method whose state machine this is (closed generic arguments honoured).</summary>
    public static string ForStateMachine(Type stateMachine)
    {
        var definition = stateMachine.IsGenericType ? stateMachine.GetGenericTypeDefinition() : stateMachine;
        var kickoff = Kickoff(stateMachine);
        var context = ContextFor(stateMachine, definition);
        if (kickoff is not null)
            return Format(kickoff, context);
        // No kickoff found (obfuscated or unusual compiler): <Name>d__N says the name at least.
        var generated = definition.Name;
        var close = ClosingBracket(generated);
        var methodName = close > 1 ? generated[1..close] : generated;
        return definition.DeclaringType is { } owner ? $"{TypeNames.Format(owner, context)}.{methodName}" : methodName;
    }

    /// <summary>The method the user wrote, whose body the compiler moved into this state machine.</summary>
    public static MethodBase? Kickoff(Type stateMachine)
    {
        var definition = stateMachine.IsGenericType ? stateMachine.GetGenericTypeDefinition() : stateMachine;
        return s_kickoffs.GetOrAdd(definition, FindKickoff);
    }

    /// <summary>
    /// True for a compiler-made async state machine. Works for types read from files too (a
    /// MetadataLoadContext: the out-of-process reader names another process's methods with this class).
    /// </summary>
    public static bool IsStateMachine(Type type) =>
        type.Name.StartsWith('<')
        && (typeof(IAsyncStateMachine).IsAssignableFrom(type) || type.GetInterface(typeof(IAsyncStateMachine).FullName!) is not null);

    // "Program.Main lambda at Program.cs:31": the user names neither the lambda nor its compiler-made class. A minimal-API
    // handler is named by its route. Without a PDB, the compiler's name of the lambda keeps two lambdas apart.
    private static string Lambda(MethodBase lambda, (Type Outer, string Parent) where)
    {
        // A constructor's is not "Orders..ctor lambda" (the runtime's name of it): C# has none, the type says it.
        var container = where.Parent switch
        {
            "<Main>$" => $"{TypeNames.Format(where.Outer)}.Main",
            ".ctor" => $"{TypeNames.Format(where.Outer)} constructor",
            ".cctor" => $"{TypeNames.Format(where.Outer)} static constructor",
            var parent => $"{TypeNames.Format(where.Outer)}.{parent}",
        };
        return FirstLine(lambda) is { } line
            ? $"{container} lambda at {Path.GetFileName(line.File)}:{line.Line}"
            : $"{container} lambda {lambda.Name[(ClosingBracket(lambda.Name) + 1)..]}";
    }

    // The state machine an async method (or async lambda, local function, iterator) hands its body to, from its
    // attribute's data (types read from files too).
    private static Type? StateMachineOf(MethodBase method)
    {
        foreach (var attribute in method.CustomAttributes)
        {
            if (attribute.ConstructorArguments is [{ Value: Type stateMachine }]
                && attribute.AttributeType.BaseType?.FullName == typeof(StateMachineAttribute).FullName)
                return stateMachine;
        }
        return null;
    }

    private static MethodBase? FindKickoff(Type definition)
    {
        if (definition.DeclaringType is not { } owner)
            return null;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        try
        {
            // Attribute data, not attribute instances: the same code reads types loaded from files.
            foreach (var method in owner.GetMethods(all))
            {
                foreach (var attribute in method.CustomAttributes)
                {
                    if (attribute.ConstructorArguments is [{ Value: Type stateMachine }] && stateMachine == definition
                        && attribute.AttributeType.BaseType?.FullName == typeof(StateMachineAttribute).FullName)
                        return method;
                }
            }
        }
        catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException or FileLoadException or CustomAttributeFormatException)
        {
        }
        return null;
    }

    private static GenericContext ContextFor(Type stateMachine, Type definition)
    {
        if (!stateMachine.IsGenericType || stateMachine.IsGenericTypeDefinition)
            return default;
        var args = stateMachine.GetGenericArguments();
        var owner = definition.DeclaringType;
        var ownerArity = owner is { IsGenericTypeDefinition: true } ? owner.GetGenericArguments().Length : 0;
        ownerArity = Math.Min(ownerArity, args.Length);
        return new GenericContext(args[..ownerArity], args[ownerArity..]);
    }

    private static string Parameters(MethodBase method, GenericContext context)
    {
        var sb = new StringBuilder();
        var parameters = method.GetParameters();
        for (var i = 0; i < parameters.Length; i++)
        {
            if (i > 0)
                sb.Append(", ");
            var p = parameters[i];
            if (p.ParameterType.IsByRef)
                sb.Append(p.IsOut ? "out " : p.IsIn ? "in " : "ref ");
            TypeNames.Append(sb, p.ParameterType, context);
        }
        return sb.ToString();
    }

    private static MethodBase? FindSingle(Type type, string name)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        MethodBase? found = null;
        IEnumerable<MethodBase> candidates = name == ".ctor" ? type.GetConstructors(all) : type.GetMethods(all);
        foreach (var m in candidates)
        {
            if (m.Name != name)
                continue;
            if (found is not null)
                return null; // overloaded: the name alone is the honest answer
            found = m;
        }
        return found;
    }

    // <Main>b__0_0 (lambda) and <Main>g__Local|0_0 (local function); the parent may itself be generated (<<Main>$>b__0_0).
    private static (string Parent, string? LocalFunction)? ParseGeneratedName(string name)
    {
        var close = ClosingBracket(name);
        if (close < 2 || close + 3 > name.Length)
            return null;
        var parent = name[1..close];
        var kind = name[close + 1];
        if (!name.AsSpan(close + 2).StartsWith("__"))
            return null;
        if (kind == 'b')
            return (parent, null);
        if (kind == 'g')
        {
            var start = close + 4;
            var bar = name.IndexOf('|', start);
            return (parent, bar > start ? name[start..bar] : name[start..]);
        }
        return null;
    }

    /// <summary>The index of the '&gt;' closing the name's leading '&lt;', counting nested pairs.</summary>
    public static int ClosingBracket(string name)
    {
        if (!name.StartsWith('<'))
            return -1;
        var depth = 0;
        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] == '<')
                depth++;
            else if (name[i] == '>' && --depth == 0)
                return i;
        }
        return -1;
    }
}
