using System.Collections.Concurrent;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// Every place in the code that calls a method (or makes a delegate of it), found by reading the IL of every method of
/// the assemblies that can: the method's own and those that reference it. For a call the JIT inlined, whose frame no
/// stack shows (a small lambda inlined into the code ASP.NET Core compiles for an endpoint, in a Release build), a
/// method called from one place only has that place as its caller. Read once per assembly, and only when a report asks.
/// </summary>
internal static class CallSites
{
    private static readonly ConcurrentDictionary<Assembly, Dictionary<(Module, int), List<(MethodBase Method, int Offset)>>> s_byAssembly = new();

    /// <summary>
    /// The one site that calls <paramref name="target"/>, when there is exactly one; else null. Calls on one line of one
    /// method (<c>Price(1).Result + Price(2).Result</c>) are one site to a reader: the first of them is given.
    /// </summary>
    public static (MethodBase Method, int Offset)? OnlyCallerOf(MethodBase target)
    {
        var home = target.Module.Assembly;
        var homeName = home.GetName().Name;
        (MethodBase, int)? only = null;
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (assembly != home && (assembly.IsDynamic || !assembly.GetReferencedAssemblies().Any(r => r.Name == homeName)))
                continue;
            if (!Index(assembly).TryGetValue((target.Module, target.MetadataToken), out var sites))
                continue;
            foreach (var site in sites)
            {
                if (MethodSymbols.SameDefinition(site.Method, target) || only is { } first && !OnOneLine(first, site))
                    return null;
                only ??= site;
            }
        }
        return only;
    }

    private static bool OnOneLine((MethodBase Method, int Offset) a, (MethodBase Method, int Offset) b) =>
        MethodSymbols.SameDefinition(a.Method, b.Method)
        && MethodSymbols.LineAt(a.Method, a.Offset) is { } x && MethodSymbols.LineAt(b.Method, b.Offset) is { } y
        && x.Line == y.Line && x.File == y.File;

    private static Dictionary<(Module, int), List<(MethodBase Method, int Offset)>> Index(Assembly assembly) => s_byAssembly.GetOrAdd(assembly, static assembly =>
    {
        const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        var index = new Dictionary<(Module, int), List<(MethodBase Method, int Offset)>>();
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
                    if (!index.TryGetValue(key, out var sites))
                        index[key] = sites = new List<(MethodBase Method, int Offset)>(1);
                    sites.Add((method, call.Offset));
                }
            }
        }
        return index;
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
}
