namespace AsyncLens.Testing;

/// <summary>Paths of the repository and of the programs the build put in artifacts/bin/&lt;project&gt;/&lt;config&gt;/.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    // artifacts/bin/<test project>/<pivot>/: the programs under test were built with the same pivot.
    private static readonly string s_pivot = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;

    public static string Artifact(string project, string file)
    {
        var path = Path.Combine(Root, "artifacts", "bin", project, s_pivot, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: build the solution first (dotnet build AsyncLens.slnx)", path);
        return path;
    }

    public static string Program(string project) => Artifact(project, project + ".dll");

    /// <summary>
    /// A program built in <paramref name="configuration"/> (<c>Debug</c> or <c>Release</c>): the real-application
    /// targets are built in both, since what a reader sees depends on it (class or struct state machines, inlining).
    /// </summary>
    public static string Program(string project, string configuration)
    {
        var path = Path.Combine(Root, "artifacts", "bin", project, configuration.ToLowerInvariant(), project + ".dll");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: build the tests first (dotnet build AsyncLens.slnx)", path);
        return path;
    }

    public static string Cli => Artifact("AsyncLens.Cli", "asynclens.dll");

    public static string Engine => Artifact("AsyncLens", "AsyncLens.Engine.dll");

    public static string Source(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AsyncLens.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException("AsyncLens.slnx not found above " + AppContext.BaseDirectory);
    }
}
