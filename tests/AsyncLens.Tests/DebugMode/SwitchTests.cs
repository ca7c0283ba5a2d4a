using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>Debug mode switched on in code: <c>AsyncDebug.Enable(...)</c> (tests/Targets/Bugs.InCode).</summary>
public sealed class InCodeSwitchTests(InCodeSwitchTests.Run run) : BugScenarioFacts(run), IClassFixture<InCodeSwitchTests.Run>
{
    public sealed class Run() : ScenarioRun(() =>
    {
        var result = ChildProcess.Dotnet([Repo.Program("Bugs.InCode"), "all"]);
        return (result, result.Stderr);
    });
}

/// <summary>Debug mode switched on by the environment alone: <c>ASYNCLENS_DEBUG=1</c> and the startup hook, no code change.</summary>
public sealed class EnvironmentSwitchTests(EnvironmentSwitchTests.Run run) : BugScenarioFacts(run), IClassFixture<EnvironmentSwitchTests.Run>
{
    public sealed class Run() : ScenarioRun(() => Start(TargetRuntime.Net10));

    internal static (ProcessResult, string) Start(TargetRuntime runtime, string? stepSource = null)
    {
        var result = ChildProcess.Dotnet(
            [Repo.Program("Bugs"), "all"],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
                ["ASYNCLENS_FORMAT"] = "json",
                ["ASYNCLENS_STEP_SOURCE"] = stepSource,
            },
            runtime: runtime);
        return (result, result.Stderr);
    }
}

/// <summary>The same, the program and the startup hook on .NET 11 (the suite's second leg: docs/dotnet11.md).</summary>
public sealed class EnvironmentSwitchNet11Tests(EnvironmentSwitchNet11Tests.Run run) : Net11BugScenarioFacts(run), IClassFixture<EnvironmentSwitchNet11Tests.Run>
{
    public sealed class Run() : ScenarioRun(() => EnvironmentSwitchTests.Start(TargetRuntime.Net11));
}

/// <summary>
/// The same on .NET 11 with debug mode's steps from the runtime's async events (<c>ASYNCLENS_STEP_SOURCE=async-events</c>,
/// docs/async-events.md): the same reports, lines and JSON.
/// </summary>
public sealed class AsyncEventsSwitchNet11Tests(AsyncEventsSwitchNet11Tests.Run run) : BugScenarioFacts(run), IClassFixture<AsyncEventsSwitchNet11Tests.Run>
{
    public sealed class Run() : ScenarioRun(() => EnvironmentSwitchTests.Start(TargetRuntime.Net11, "async-events"));
}

/// <summary>The step source asked for where the runtime lacks it, or misspelled: one line, and debug mode on the TPL events.</summary>
public sealed class StepSourceSwitchTests
{
    [Theory]
    [InlineData("async-events", "asynclens: ASYNCLENS_STEP_SOURCE=async-events needs .NET 11 or later (this is .NET 10); using tpl")]
    [InlineData("events", "asynclens: ASYNCLENS_STEP_SOURCE='events' is not tpl, async-events or async-events-only; using tpl")]
    public void A_step_source_this_runtime_cannot_give_is_said_once_and_the_reports_still_come(string setting, string said)
    {
        var result = ChildProcess.Dotnet(
            [Repo.Program("Bugs"), "slow"],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
                ["ASYNCLENS_STEP_SOURCE"] = setting,
            },
            runtime: TargetRuntime.Net10);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(1, result.Stderr.Split('\n').Count(line => line == said));
        Assert.Contains("asynclens: slow-step: SlowStep.HandleAsync(int) ran ", result.Stderr);
    }
}
