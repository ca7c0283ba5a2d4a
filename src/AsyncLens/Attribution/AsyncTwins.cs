using System.Collections.Concurrent;
using System.Reflection;
using AsyncLens.Symbols;

namespace AsyncLens.Attribution;

/// <summary>
/// The async twin of a framework call (<c>File.ReadAllText</c> and <c>File.ReadAllTextAsync</c>): a method of the
/// same name plus <c>Async</c> on its type, a base type or an interface it extends (<c>IDatabase.StringGet</c>'s twin
/// is on <c>IDatabaseAsync</c>), that takes the same kinds of arguments, a <c>CancellationToken</c> aside (a span
/// and a memory of the same items count as one kind). Only such a twin does the same I/O without blocking. A twin
/// that reads a stream where the call takes a buffer already in memory (<c>SHA256.HashData(byte[])</c> and
/// <c>HashDataAsync(Stream)</c>) says the call computes: CPU-bound work, no I/O to await.
/// </summary>
internal static class AsyncTwins
{
    private static readonly ConcurrentDictionary<MethodBase, Twin> s_cache = new();

    // Text writers with async twins that are not where async code blocks (console output, debug traces).
    private static readonly HashSet<string> s_quietTypes =
    [
        "System.Console", "System.IO.TextWriter", "System.IO.StreamWriter", "System.Diagnostics.Debug", "System.Diagnostics.Trace",
    ];

    public static Twin Of(MethodBase method) => s_cache.GetOrAdd(method, Find);

    private static Twin Find(MethodBase m)
    {
        if (m.DeclaringType is not { } type || m.Name.EndsWith("Async", StringComparison.Ordinal) || m.IsConstructor || m.IsSpecialName
            || s_quietTypes.Contains(type.FullName ?? ""))
            return Twin.None;
        var name = m.Name + "Async";
        var display = $"{TypeNames.Format(type).Split('<')[0]}.{name}";
        try
        {
            var candidates = Types(type).SelectMany(t => t.GetMember(name, MemberTypes.Method, BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
                .OfType<MethodInfo>().ToList();
            if (candidates.Count == 0)
                return QueryTwin(m, type);
            var parameters = m.GetParameters();
            if (candidates.Any(c => SameKinds(parameters, c.GetParameters())))
                return new Twin(TwinKind.SameArguments, display);
            return parameters.Any(p => IsBuffer(p.ParameterType)) && candidates.Any(c => c.GetParameters().Any(p => typeof(Stream).IsAssignableFrom(p.ParameterType)))
                ? new Twin(TwinKind.ReadsAStream, display)
                : Twin.None;
        }
        catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException or FileLoadException or NotSupportedException)
        {
            return Twin.None;
        }
    }

    // LINQ's operators that run a query where they are called (`Queryable.First`, `Enumerable.ToList` over an IQueryable):
    // their twins are a query provider's extensions of IQueryable<T> of the same name plus Async (EF Core's
    // `EntityFrameworkQueryableExtensions.ToListAsync`), in a package or the app; over a list in memory there is no
    // query to run (whether the source is one is the caller's to tell: <see cref="TwinKind.RunsAQuery"/>).
    private static Twin QueryTwin(MethodBase m, Type type)
    {
        var definition = m is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : m; // its T as the twin's
        if (type.FullName is not ("System.Linq.Queryable" or "System.Linq.Enumerable") || definition.GetParameters() is not [_, .. var rest])
            return Twin.None;
        foreach (var twin in s_queryExtensions.GetOrAdd(m.Name + "Async", QueryExtensions))
        {
            if (SameKinds(rest, twin.GetParameters()[1..]))
                return new Twin(TwinKind.RunsAQuery, $"{TypeNames.Format(twin.DeclaringType!)}.{twin.Name}");
        }
        return Twin.None;
    }

    private static readonly ConcurrentDictionary<string, MethodInfo[]> s_queryExtensions = new();

    // The public static methods of that name whose first parameter is an IQueryable<T>, outside the BCL (EF Core is a
    // Microsoft.* package).
    private static MethodInfo[] QueryExtensions(string name) =>
    [
        .. AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.GetName().Name is { } n && n != "System" && !n.StartsWith("System.", StringComparison.Ordinal)
                && n is not ("mscorlib" or "netstandard") && a != typeof(AsyncTwins).Assembly)
            .SelectMany(ExportedTypes)
            .Where(t => t is { IsAbstract: true, IsSealed: true })
            .SelectMany(t => t.GetMember(name, MemberTypes.Method, BindingFlags.Public | BindingFlags.Static)).OfType<MethodInfo>()
            .Where(m => m.GetParameters() is [{ ParameterType: { IsGenericType: true } source }, ..] && source.GetGenericTypeDefinition() == typeof(IQueryable<>)),
    ];

    private static Type[] ExportedTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetExportedTypes();
        }
        catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException or FileLoadException or NotSupportedException or ReflectionTypeLoadException)
        {
            return [];
        }
    }

    // The type, its base types, and every interface it extends or implements.
    private static IEnumerable<Type> Types(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
            yield return t;
        foreach (var i in type.GetInterfaces())
            yield return i;
    }

    // The twin's parameters, its CancellationTokens left out, are the call's, kind for kind; or they start with them
    // and the rest are optional.
    internal static bool SameKinds(ParameterInfo[] sync, ParameterInfo[] twin)
    {
        var rest = twin.Where(p => p.ParameterType != typeof(CancellationToken)).ToArray();
        if (rest.Length < sync.Length)
            return false;
        for (var i = 0; i < sync.Length; i++)
        {
            if (Kind(sync[i].ParameterType) != Kind(rest[i].ParameterType))
                return false;
        }
        return rest.Skip(sync.Length).All(p => p.IsOptional);
    }

    // A parameter's type as a kind: generic parameters by position, a span and a memory of the same items alike.
    internal static string Kind(Type t)
    {
        if (t.IsGenericParameter)
            return (t.DeclaringMethod is null ? "!" : "!!") + t.GenericParameterPosition;
        if (t.IsByRef)
            return Kind(t.GetElementType()!) + "&";
        if (t.IsArray)
            return Kind(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        if (!t.IsGenericType)
            return t.FullName ?? t.Name;
        var definition = t.GetGenericTypeDefinition();
        var name = definition == typeof(Memory<>) ? typeof(Span<>).FullName
            : definition == typeof(ReadOnlyMemory<>) ? typeof(ReadOnlySpan<>).FullName
            : definition.FullName ?? definition.Name;
        return $"{name}<{string.Join(",", t.GetGenericArguments().Select(Kind))}>";
    }

    // Data already in memory: an array of bytes or characters, a span or memory.
    private static bool IsBuffer(Type t) =>
        t == typeof(byte[]) || t == typeof(char[])
        || t.IsGenericType && t.GetGenericTypeDefinition() is var d && (d == typeof(Span<>) || d == typeof(ReadOnlySpan<>) || d == typeof(Memory<>) || d == typeof(ReadOnlyMemory<>));
}

/// <summary>What the async twin of a call is, and its name as the user would call it (<c>File.ReadAllTextAsync</c>).</summary>
internal readonly record struct Twin(TwinKind Kind, string? Name)
{
    public static readonly Twin None = new(TwinKind.None, null);
}

internal enum TwinKind : byte
{
    /// <summary>No async twin.</summary>
    None,

    /// <summary>A twin taking the same kinds of arguments: the call does I/O that can be awaited.</summary>
    SameArguments,

    /// <summary>The only twins read a stream, where the call takes a buffer in memory: the call computes.</summary>
    ReadsAStream,

    /// <summary>
    /// A LINQ operator with a query provider's async twin (<c>Enumerable.ToList</c> and EF Core's <c>ToListAsync</c>): over
    /// a query (an IQueryable) the call runs it, I/O that can be awaited; over data in memory it computes.
    /// </summary>
    RunsAQuery,
}
