using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace AsyncLens.Symbols;

/// <summary>
/// Which assemblies come from NuGet packages: an app's <c>*.deps.json</c> (beside its dll, where the build copies its
/// packages' files too) lists each library with its type (<c>"package"</c> or <c>"project"</c>) and its runtime files.
/// An assembly is a package's when a deps.json in its own directory lists its file under a package, or when it was
/// loaded from a NuGet package folder (<c>~/.nuget/packages</c>, <c>NUGET_PACKAGES</c>: a test host, probing paths).
/// </summary>
internal static class PackageAssemblies
{
    private static readonly ConcurrentDictionary<string, HashSet<string>> s_byDirectory = new(StringComparer.Ordinal);
    private static readonly string? s_nugetRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } root
        ? Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar
        : null;

    public static bool IsPackage(Assembly assembly)
    {
        string location;
        try
        {
            location = assembly.Location;
        }
        catch (NotSupportedException)
        {
            return false;
        }
        return !string.IsNullOrEmpty(location) && IsPackageFile(location);
    }

    /// <summary>The same for an assembly known by its file's path only (a module of another process, read from outside).</summary>
    public static bool IsPackageFile(string location)
    {
        if (location.Contains($"{Path.DirectorySeparatorChar}.nuget{Path.DirectorySeparatorChar}packages{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
            || s_nugetRoot is not null && location.StartsWith(s_nugetRoot, StringComparison.Ordinal))
            return true;
        var directory = Path.GetDirectoryName(location);
        return directory is not null && s_byDirectory.GetOrAdd(directory, Read).Contains(Path.GetFileName(location));
    }

    /// <summary>Reads the deps.json files of a directory ahead of the first question about it.</summary>
    public static void Prepare(string directory) => s_byDirectory.GetOrAdd(Path.TrimEndingDirectorySeparator(directory), Read);

    /// <summary>The file names of the package runtime assemblies listed by the deps.json files of a directory.</summary>
    internal static HashSet<string> Read(string directory)
    {
        var files = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string[] deps;
        try
        {
            deps = Directory.GetFiles(directory, "*.deps.json");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return files;
        }
        foreach (var path in deps)
        {
            try
            {
                using var stream = File.OpenRead(path);
                using var json = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
                AddPackageFiles(json.RootElement, files);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
            {
            }
        }
        return files;
    }

    // libraries: { "Npgsql/10.0.3": { "type": "package" } }; targets: { "<tfm>": { "Npgsql/10.0.3": { "runtime": { "lib/net8.0/Npgsql.dll": {} } } } }.
    internal static void AddPackageFiles(JsonElement root, HashSet<string> into)
    {
        if (!root.TryGetProperty("libraries", out var libraries) || libraries.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("targets", out var targets) || targets.ValueKind != JsonValueKind.Object)
            return;
        var packages = new HashSet<string>(StringComparer.Ordinal);
        foreach (var library in libraries.EnumerateObject())
        {
            if (library.Value.ValueKind == JsonValueKind.Object && library.Value.TryGetProperty("type", out var type) && type.ValueEquals("package"))
                packages.Add(library.Name);
        }
        foreach (var target in targets.EnumerateObject())
        {
            if (target.Value.ValueKind != JsonValueKind.Object)
                continue;
            foreach (var library in target.Value.EnumerateObject())
            {
                if (!packages.Contains(library.Name) || library.Value.ValueKind != JsonValueKind.Object
                    || !library.Value.TryGetProperty("runtime", out var runtime) || runtime.ValueKind != JsonValueKind.Object)
                    continue;
                foreach (var file in runtime.EnumerateObject())
                    into.Add(Path.GetFileName(file.Name));
            }
        }
    }
}
