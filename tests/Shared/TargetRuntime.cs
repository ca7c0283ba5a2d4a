using System.Diagnostics;

namespace AsyncLens.Testing;

/// <summary>
/// The runtime a target program runs on: the SDK's own (.NET 10) or .NET 11.0.0, laid out as a private DOTNET_ROOT by
/// tests/Net11/install-dotnet11.sh (run here when it has not been: idempotent, quick once done). The targets and the
/// asynclens tool are built for net10.0 with <c>RollForward=Major</c>: under that root only .NET 11 exists, so they
/// run on it. The suite's .NET 11 leg is the same tests with <see cref="Net11"/> passed where they start a program:
/// a class of facts gets a derived class (<c>...Net11Tests</c>), a theory a <c>runtime</c> parameter (<see cref="Named"/>).
/// docs/dotnet11.md lists them.
/// </summary>
public sealed class TargetRuntime
{
    private static readonly Lazy<TargetRuntime> s_net11 = new(LayOutNet11);

    private TargetRuntime(string name, string dotnet, IReadOnlyDictionary<string, string?> environment)
    {
        Name = name;
        Dotnet = dotnet;
        Environment = environment;
    }

    /// <summary>The runtime the tests themselves run on (the SDK's, .NET 10).</summary>
    public static TargetRuntime Net10 { get; } = new("net10", ChildProcess.DotnetPath(), new Dictionary<string, string?>());

    /// <summary>.NET 11.0.0 (and ASP.NET Core 11.0.0), laid out on first use.</summary>
    public static TargetRuntime Net11 => s_net11.Value;

    /// <summary>Where .NET 11 is laid out: <c>$ASYNCLENS_DOTNET11_ROOT</c>, else /work/dotnet11 (the script's default).</summary>
    public static string Net11Root => System.Environment.GetEnvironmentVariable("ASYNCLENS_DOTNET11_ROOT") is { Length: > 0 } root ? root : "/work/dotnet11";

    /// <summary>"net10" or "net11": a theory's runtime parameter.</summary>
    public string Name { get; }

    public static TargetRuntime Named(string name) => name switch
    {
        "net10" => Net10,
        "net11" => Net11,
        _ => throw new ArgumentException($"no runtime named {name}", nameof(name)),
    };

    /// <summary>The <c>dotnet</c> host that runs <c>app.dll</c> on this runtime.</summary>
    public string Dotnet { get; }

    /// <summary>What a child process needs to run on this runtime (added to what the test gives it).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; }

    /// <summary>The test's environment with this runtime's added (the test's own settings win).</summary>
    public Dictionary<string, string?> With(IDictionary<string, string?>? env)
    {
        var all = new Dictionary<string, string?>(Environment);
        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
            all[name] = value;
        return all;
    }

    /// <summary>A start of <c>dotnet</c> on this runtime (arguments, redirections and the test's variables to add).</summary>
    public ProcessStartInfo StartInfo()
    {
        var start = new ProcessStartInfo(Dotnet) { UseShellExecute = false };
        ChildProcess.SetEnvironment(start, Environment);
        return start;
    }

    public override string ToString() => Name;

    private static TargetRuntime LayOutNet11()
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(Net11Root));
        if (!File.Exists(Path.Combine(root, ".ready")))
        {
            var install = ChildProcess.Run(Repo.Source("tests", "Net11", "install-dotnet11.sh"), [root], timeout: TimeSpan.FromMinutes(10), timed: false);
            if (install.ExitCode != 0)
                throw new InvalidOperationException($"tests/Net11/install-dotnet11.sh {root} failed:\n{install}");
        }
        var runtime = new TargetRuntime("net11", Path.Combine(root, "dotnet"), new Dictionary<string, string?>
        {
            ["DOTNET_ROOT"] = root,
            // The host must not find .NET 10 anywhere else: a leg that silently ran on .NET 10 would prove nothing.
            ["DOTNET_ROOT_X64"] = null,
            ["DOTNET_ROLL_FORWARD"] = null,
            ["DOTNET_ROLL_FORWARD_TO_PRERELEASE"] = null,
            // The test host's dotnet (.NET 10): asynclens runs the programs it is given with the host that runs it.
            ["DOTNET_HOST_PATH"] = null,
        });
        var listed = ChildProcess.Run(runtime.Dotnet, ["--list-runtimes"], runtime.With(null), timed: false);
        var runtimes = listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (listed.ExitCode != 0 || !runtimes.Contains($"Microsoft.NETCore.App 11.0.0 [{root}/shared/Microsoft.NETCore.App]")
            || runtimes.Any(r => r.StartsWith("Microsoft.NETCore.App ", StringComparison.Ordinal) && !r.StartsWith("Microsoft.NETCore.App 11.", StringComparison.Ordinal)))
            throw new InvalidOperationException($"{root} should hold .NET 11.0.0 and no other runtime:\n{listed}");
        return runtime;
    }
}
