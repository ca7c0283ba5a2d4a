using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Patterns;

/// <summary>The chapter's patterns with debug mode switched on in code (<c>AsyncDebug.Enable</c>, tests/Targets/Patterns in-code).</summary>
public sealed class PatternInCodeTests(PatternInCodeTests.Runs runs) : PatternFacts(runs), IClassFixture<PatternInCodeTests.Runs>
{
    public sealed class Runs() : PatternRuns(scenario =>
    {
        var result = ChildProcess.Dotnet([Repo.Program("Patterns"), scenario, "--in-code"], timed: false);
        return (result, result.Stderr);
    });
}

/// <summary>The chapter's patterns with debug mode switched on by the environment alone (<c>ASYNCLENS_DEBUG=1</c> and the startup hook).</summary>
public sealed class PatternEnvironmentTests(PatternEnvironmentTests.Runs runs) : PatternFacts(runs), IClassFixture<PatternEnvironmentTests.Runs>
{
    public sealed class Runs() : PatternRuns(scenario => Start(Repo.Program("Patterns"), scenario));

    internal static (ProcessResult, string) Start(string program, string scenario, TargetRuntime? runtime = null)
    {
        var result = ChildProcess.Dotnet(
            [program, scenario],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
                ["ASYNCLENS_FORMAT"] = "json",
            },
            // Not one timing-sensitive program at a time: PatternFacts ignores slow steps, and the deadlocks' time is bounded
            // loosely (0.271 s read at load 20, under 1 s): the other test thread's program may run meanwhile.
            timed: false,
            runtime: runtime);
        return (result, result.Stderr);
    }
}

/// <summary>The same, the program and the startup hook on .NET 11 (the suite's second leg: docs/dotnet11.md).</summary>
public sealed class PatternEnvironmentNet11Tests(PatternEnvironmentNet11Tests.Runs runs) : PatternFacts(runs), IClassFixture<PatternEnvironmentNet11Tests.Runs>
{
    public sealed class Runs() : PatternRuns(scenario => PatternEnvironmentTests.Start(Repo.Program("Patterns"), scenario, TargetRuntime.Net11));
}

/// <summary>The same, the target built in Release (struct state machines, the compiler's other names for hoisted fields).</summary>
public sealed class PatternEnvironmentReleaseTests(PatternEnvironmentReleaseTests.Runs runs) : PatternFacts(runs), IClassFixture<PatternEnvironmentReleaseTests.Runs>
{
    public sealed class Runs() : PatternRuns(scenario => PatternEnvironmentTests.Start(Repo.Program("Patterns", "Release"), scenario));
}
