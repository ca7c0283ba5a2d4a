using System.Collections.Concurrent;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// Tells user code from the framework. Creation sites and fix locations must land in
/// user code, never in the BCL, ASP.NET, a Microsoft.* package or AsyncLens itself.
/// </summary>
internal static class CodeOrigin
{
    private static readonly ConcurrentDictionary<Assembly, bool> s_cache = new();
    private static readonly string? s_sharedFrameworkRoot = SharedFrameworkRoot();

    public static bool IsUserCode(MethodBase? method) =>
        method?.DeclaringType?.Assembly is { } asm && IsUserCode(asm);

    public static bool IsUserCode(Assembly assembly) => s_cache.GetOrAdd(assembly, Classify);

    private static bool Classify(Assembly assembly)
    {
        if (assembly.IsDynamic || assembly == typeof(CodeOrigin).Assembly)
            return false;
        var name = assembly.GetName().Name ?? "";
        if (name.StartsWith("System.", StringComparison.Ordinal) || name == "System"
            || name.StartsWith("Microsoft.", StringComparison.Ordinal)
            || name is "netstandard" or "mscorlib")
            return false;
        var location = assembly.Location;
        return string.IsNullOrEmpty(location) || s_sharedFrameworkRoot is null
            || !location.StartsWith(s_sharedFrameworkRoot, StringComparison.Ordinal);
    }

    // <dotnet root>/shared/: every shared framework (Microsoft.NETCore.App, Microsoft.AspNetCore.App, ...).
    private static string? SharedFrameworkRoot()
    {
        var coreLib = typeof(object).Assembly.Location;
        if (string.IsNullOrEmpty(coreLib))
            return null;
        var versionDir = Path.GetDirectoryName(coreLib);
        var frameworkDir = versionDir is null ? null : Path.GetDirectoryName(versionDir);
        var shared = frameworkDir is null ? null : Path.GetDirectoryName(frameworkDir);
        return shared is null ? null : shared + Path.DirectorySeparatorChar;
    }
}
