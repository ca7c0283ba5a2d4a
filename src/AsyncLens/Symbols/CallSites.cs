using System.Collections.Concurrent;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// Every place in the code that calls a method (or makes a delegate of it), found by reading the IL of every method of
/// the assemblies that can: the method's own and those that reference it. For a call the JIT inlined, whose frame no
/// stack shows (a small lambda inlined into the code ASP.NET Core compiles for an endpoint, in a Release build), a
/// method called from one place only has that place as its caller. The same reading notes each type the code passes
/// as a generic type argument of a method (<c>MapGrpcService&lt;AccountsService&gt;()</c>): where the app registered a
/// type whose methods a framework runs. Read once per assembly, and only when a report asks.
/// </summary>
internal static class CallSites
{
    private static readonly ConcurrentDictionary<Assembly, Sites> s_byAssembly = new();

    /// <summary>
    /// The one site that calls <paramref name="target"/>, when there is exactly one; else null. Calls on one line of one
    /// method (<c>Price(1).Result + Price(2).Result</c>) are one site to a reader: the first of them is given.
    /// </summary>
    public static (MethodBase Method, int Offset)? OnlyCallerOf(MethodBase target)
    {
        (MethodBase, int)? only = null;
        foreach (var sites in Readers(target.Module.Assembly))
        {
            if (!sites.ByTarget.TryGetValue((target.Module, target.MetadataToken), out var calls))
                continue;
            foreach (var site in calls)
            {
                if (MethodSymbols.SameDefinition(site.Method, target) || only is { } first && !OnOneLine(first, (site.Method, site.Offset)))
                    return null;
                only ??= (site.Method, site.Offset);
            }
        }
        return only;
    }

    /// <summary>
    /// Where the app registered the type declaring <paramref name="target"/> with a framework that runs its methods
    /// (<c>MapGrpcService&lt;T&gt;</c>, <c>MapHub&lt;T&gt;</c>, <c>AddHostedService&lt;T&gt;</c>, <c>AddConsumer&lt;T&gt;</c>):
    /// the one site that passes that type as a generic type argument of a method, when no code calls the method itself,
    /// nor the interface method it implements or the base method it overrides (code holding the service by an interface
    /// it was registered as calls that); else null.
    /// </summary>
    public static (MethodBase Method, int Offset)? RegistrationOf(MethodBase target)
    {
        if (target.DeclaringType is not { } declaring)
            return null;
        var registered = Definition(declaring);
        var through = CalledThrough(target).Select(m => (m.Module, m.MetadataToken)).ToList();
        (MethodBase, int)? only = null;
        foreach (var sites in Readers(target.Module.Assembly))
        {
            if (sites.ByTarget.ContainsKey((target.Module, target.MetadataToken))
                || through.Any(key => sites.ByTarget.TryGetValue(key, out var calls) && calls.Any(c => !c.TakesAddress)))
                return null;
            if (!sites.ByTypeArgument.TryGetValue(registered, out var registrations))
                continue;
            foreach (var site in registrations)
            {
                if (only is { } first && !OnOneLine(first, (site.Method, site.Offset)))
                    return null;
                only ??= (site.Method, site.Offset);
            }
        }
        return only;
    }

    // The methods a call of which may run the target: those it implements or overrides. A delegate made of one (gRPC's
    // generated BindService, of the abstract base method) is not counted: the framework calls it.
    private static IEnumerable<MethodBase> CalledThrough(MethodBase target)
    {
        if (target is not MethodInfo { DeclaringType: { } type } method || target.IsStatic)
            yield break;
        if (method.GetBaseDefinition() is { } root && !MethodSymbols.SameDefinition(root, method))
            yield return root;
        foreach (var contract in type.GetInterfaces())
        {
            InterfaceMapping map;
            try
            {
                map = type.GetInterfaceMap(contract);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException)
            {
                continue;
            }
            for (var i = 0; i < map.TargetMethods.Length; i++)
            {
                if (MethodSymbols.SameDefinition(map.TargetMethods[i], method))
                    yield return map.InterfaceMethods[i];
            }
        }
    }

    // The assemblies whose code can call into home: it and those that reference it, each read once.
    private static IEnumerable<Sites> Readers(Assembly home)
    {
        var homeName = home.GetName().Name;
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (assembly == home || !assembly.IsDynamic && assembly.GetReferencedAssemblies().Any(r => r.Name == homeName))
                yield return Index(assembly);
        }
    }

    private static Type Definition(Type type) => type.IsGenericType ? type.GetGenericTypeDefinition() : type;

    private static bool OnOneLine((MethodBase Method, int Offset) a, (MethodBase Method, int Offset) b) =>
        MethodSymbols.SameDefinition(a.Method, b.Method)
        && MethodSymbols.LineAt(a.Method, a.Offset) is { } x && MethodSymbols.LineAt(b.Method, b.Offset) is { } y
        && x.Line == y.Line && x.File == y.File;

    private static Sites Index(Assembly assembly) => s_byAssembly.GetOrAdd(assembly, static assembly =>
    {
        const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        var sites = new Sites(new(), new());
        foreach (var type in Types(assembly))
        {
            IEnumerable<MethodBase> methods;
            try
            {
                methods = [.. type.GetMethods(Declared), .. type.GetConstructors(Declared)];
            }
            catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException or FileLoadException)
            {
                continue;
            }
            foreach (var method in methods)
            {
                foreach (var call in MethodSymbols.Calls(method))
                {
                    var key = (call.Target.Module, call.Target.MetadataToken);
                    if (!sites.ByTarget.TryGetValue(key, out var calls))
                        sites.ByTarget[key] = calls = new List<Site>(1);
                    calls.Add(new Site(method, call.Offset, call.TakesAddress));
                    if (!call.Target.IsGenericMethod)
                        continue;
                    foreach (var argument in call.Target.GetGenericArguments())
                    {
                        if (argument.IsGenericParameter)
                            continue;
                        var registered = Definition(argument);
                        if (!sites.ByTypeArgument.TryGetValue(registered, out var passes))
                            sites.ByTypeArgument[registered] = passes = new List<Site>(1);
                        passes.Add(new Site(method, call.Offset, call.TakesAddress));
                    }
                }
            }
        }
        return sites;
    });

    /// <summary>An assembly's types, those that load when some do not.</summary>
    internal static IEnumerable<Type> Types(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            return ex.Types.OfType<Type>();
        }
    }

    private readonly record struct Site(MethodBase Method, int Offset, bool TakesAddress);

    // Calls (and delegates made) by the method called; and by each type passed as a method's generic type argument
    // (a generic type by its definition: AddConsumer<Handler<Order>> registers Handler<>).
    private sealed record Sites(Dictionary<(Module, int), List<Site>> ByTarget, Dictionary<Type, List<Site>> ByTypeArgument);
}
