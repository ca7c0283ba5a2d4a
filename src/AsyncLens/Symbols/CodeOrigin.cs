using System.Collections.Concurrent;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// Tells user code from the framework. Creation sites and fix locations must land in
/// user code, never in the BCL, ASP.NET, a Microsoft.* package or AsyncLens itself.
/// <see cref="Kind"/> also tells the app's own code from its NuGet packages' (the profiler folds both kinds).
/// </summary>
internal static class CodeOrigin
{
    private static readonly ConcurrentDictionary<Assembly, bool> s_cache = new();
    private static readonly ConcurrentDictionary<Assembly, CodeKind> s_kinds = new();
    private static readonly string? s_sharedFrameworkRoot = SharedFrameworkRoot();

    public static bool IsUserCode(MethodBase? method) =>
        method?.DeclaringType?.Assembly is { } asm && IsUserCode(asm);

    public static bool IsUserCode(Assembly assembly) => s_cache.GetOrAdd(assembly, Classify);

    /// <summary>The app's own code: neither the framework's nor a package's (<see cref="Kind"/>).</summary>
    public static bool IsAppCode(Assembly assembly) => Kind(assembly) == CodeKind.User;

    /// <summary>
    /// The framework's (<see cref="IsUserCode(Assembly)"/> false), a package's (the app's deps.json lists its file as a package's,
    /// or it was loaded from a NuGet package folder), or the app's own (its projects, whatever has no deps.json entry).
    /// Works for assemblies read from another process's files too: the deps.json is looked for next to the assembly.
    /// </summary>
    public static CodeKind Kind(Assembly assembly) => s_kinds.GetOrAdd(assembly, static a =>
        !IsUserCode(a) ? CodeKind.Framework : PackageAssemblies.IsPackage(a) ? CodeKind.Package : CodeKind.User);

    /// <summary>
    /// The same judgement for a module of another process, known by its file's path only (the outside reader's
    /// frames): the framework's when unnamed, named as .NET's or AsyncLens's, or under a shared framework
    /// (<c>&lt;dotnet root&gt;/shared/Microsoft.*/&lt;version&gt;/</c>, whatever that process's dotnet root);
    /// a package's as <see cref="PackageAssemblies.IsPackageFile"/> says; else the app's own.
    /// </summary>
    public static CodeKind KindOfFile(string? path)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathRooted(path) || IsFrameworkName(Path.GetFileNameWithoutExtension(path))
            || Path.GetFileNameWithoutExtension(path) == typeof(CodeOrigin).Assembly.GetName().Name
            || InSharedFramework(path))
            return CodeKind.Framework;
        return PackageAssemblies.IsPackageFile(path) ? CodeKind.Package : CodeKind.User;
    }

    private static bool Classify(Assembly assembly)
    {
        if (assembly.IsDynamic || assembly == typeof(CodeOrigin).Assembly)
            return false;
        if (IsFrameworkName(assembly.GetName().Name ?? ""))
            return false;
        var location = assembly.Location;
        return string.IsNullOrEmpty(location) || s_sharedFrameworkRoot is null
            || !location.StartsWith(s_sharedFrameworkRoot, StringComparison.Ordinal);
    }

    // <root>/shared/Microsoft.*/<version>/<file>.
    private static bool InSharedFramework(string path)
    {
        var framework = Path.GetDirectoryName(Path.GetDirectoryName(path));
        var shared = framework is null ? null : Path.GetDirectoryName(framework);
        return framework is not null && Path.GetFileName(framework).StartsWith("Microsoft.", StringComparison.Ordinal)
            && shared is not null && Path.GetFileName(shared) == "shared";
    }

    private static bool IsFrameworkName(string name) =>
        name.StartsWith("System.", StringComparison.Ordinal) || name == "System"
        || name.StartsWith("Microsoft.", StringComparison.Ordinal)
        || name is "netstandard" or "mscorlib";

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

/// <summary>Whose code an assembly is.</summary>
internal enum CodeKind
{
    /// <summary>The app's own code (its projects).</summary>
    User,

    /// <summary>A NuGet package the app uses (Npgsql, Dapper, StackExchange.Redis, ...).</summary>
    Package,

    /// <summary>The framework: the BCL, ASP.NET Core, Microsoft.* and System.* assemblies, AsyncLens.</summary>
    Framework,

    /// <summary>Not known (a task the events never named).</summary>
    Unknown,
}
