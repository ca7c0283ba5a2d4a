using System.Text.Json;
using Xunit;

namespace AsyncLens.Testing;

/// <summary>
/// A class fixture: one run of a target under debug mode (the startup hook, JSON reports) in each build, Debug and
/// Release, both started at once and shared by the class's facts; and, for each leg asked for, one more run of each build
/// (<see cref="NetElevenEventsOnly"/>: on .NET 11 with debug mode on the runtime's async events alone). A run fails its
/// facts if the target exits non-zero or does not print its last line.
/// </summary>
public abstract class DebugModeRuns
{
    /// <summary>The leg on .NET 11 with debug mode on the runtime's async events alone (<c>ASYNCLENS_STEP_SOURCE=async-events-only</c>).</summary>
    public const string NetElevenEventsOnly = "net11-events-only";

    private readonly Dictionary<(string, string?), Lazy<List<JsonElement>>> _reports;

    protected DebugModeRuns(string program, string doneLine, params string[] args)
        : this(program, doneLine, [], args)
    {
    }

    protected DebugModeRuns(string program, string doneLine, string[] legs, params string[] args)
    {
        var runs = new[] { "Debug", "Release" }.SelectMany(c => new string?[] { null }.Concat(legs).Select(leg => (c, leg)))
            .ToDictionary(r => r, r => Task.Run(() => Run(program, r.c, r.leg, doneLine, args)));
        _reports = runs.ToDictionary(r => r.Key, r => new Lazy<List<JsonElement>>(() => r.Value.GetAwaiter().GetResult()));
    }

    /// <summary>The reports of the run of <paramref name="configuration"/> (Debug or Release) on <paramref name="leg"/> (null: .NET 10), waiting for it.</summary>
    public List<JsonElement> Reports(string configuration, string? leg = null) => _reports[(configuration, leg)].Value;

    private static List<JsonElement> Run(string program, string configuration, string? leg, string doneLine, string[] args)
    {
        var result = ChildProcess.Dotnet([Repo.Program(program, configuration), .. args],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
                ["ASYNCLENS_FORMAT"] = "json",
                ["ASYNCLENS_STEP_SOURCE"] = leg switch { NetElevenEventsOnly => "async-events-only", null => null, _ => throw new ArgumentException($"no leg named {leg}", nameof(leg)) },
            },
            runtime: leg is null ? TargetRuntime.Net10 : TargetRuntime.Net11);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(doneLine, result.Stdout);
        return Testing.Reports.Parse(result.Stderr);
    }
}
