using System.Text.Json;
using Xunit;

namespace AsyncLens.Testing;

/// <summary>
/// A class fixture: one run of a target under debug mode (the startup hook, JSON reports) in each build, Debug and
/// Release, both started at once and shared by the class's facts; a run fails its facts if the target exits non-zero or
/// does not print its last line.
/// </summary>
public abstract class DebugModeRuns
{
    private readonly Dictionary<string, Lazy<List<JsonElement>>> _reports;

    protected DebugModeRuns(string program, string doneLine, params string[] args)
    {
        var runs = new[] { "Debug", "Release" }.ToDictionary(c => c, c => Task.Run(() => Run(program, c, doneLine, args)));
        _reports = runs.ToDictionary(r => r.Key, r => new Lazy<List<JsonElement>>(() => r.Value.GetAwaiter().GetResult()));
    }

    /// <summary>The reports of the run of <paramref name="configuration"/> (Debug or Release), waiting for it.</summary>
    public List<JsonElement> Reports(string configuration) => _reports[configuration].Value;

    private static List<JsonElement> Run(string program, string configuration, string doneLine, string[] args)
    {
        var result = ChildProcess.Dotnet([Repo.Program(program, configuration), .. args],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(doneLine, result.Stdout);
        return Testing.Reports.Parse(result.Stderr);
    }
}
