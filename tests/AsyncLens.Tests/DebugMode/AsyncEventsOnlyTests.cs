using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>
/// Debug mode on .NET 11's async events alone (<c>ASYNCLENS_STEP_SOURCE=async-events-only</c>: no TPL event source, no
/// task registry; docs/async-events.md): the slow and hung steps of tests/Targets/Bugs with the methods, lines, creation
/// sites and stacks the TPL events give, in JSON and as text, and nothing else on those scenarios; a
/// <c>Parallel.ForEachAsync</c> body's first step (run by the BCL's runtime-async worker) included.
/// </summary>
public sealed class AsyncEventsOnlyNet11Tests(AsyncEventsOnlyNet11Tests.Run run) : StepScenarioFacts(run), IClassFixture<AsyncEventsOnlyNet11Tests.Run>
{
    private static readonly string[] s_scenarios = ["slow", "slow-call", "first-step", "never-awaits", "busy-loop", "hung", "parallel-first-step"];

    private readonly Run _run = run;

    /// <summary>The JSON run of the step scenarios, and beside it, at the same time, a text run of <c>slow</c>.</summary>
    public sealed class Run() : ScenarioRun(() =>
    {
        var result = Start(s_scenarios, json: true);
        return (result, result.Stderr);
    })
    {
        // Started before the JSON run (a field initializer runs before the base constructor): the two run side by side.
        private readonly Task<ProcessResult> _text = Task.Run(() => Start(["slow"], json: false));

        internal ProcessResult Text => _text.GetAwaiter().GetResult();

        private static ProcessResult Start(string[] scenarios, bool json) =>
            ChildProcess.Dotnet(
                [Repo.Program("Bugs"), .. scenarios],
                new Dictionary<string, string?>
                {
                    ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                    ["ASYNCLENS_DEBUG"] = "1",
                    ["ASYNCLENS_FORMAT"] = json ? "json" : null,
                    ["ASYNCLENS_STEP_SOURCE"] = "async-events-only",
                },
                runtime: TargetRuntime.Net11);
    }

    private protected override bool FirstStepsUnderRuntimeAsyncMissedSometimes => true;

    [Fact(Skip = RuntimeAsyncFirstStepMissedSometimes)]
    public override void Slow_first_step_of_a_Parallel_ForEachAsync_body_is_reported_as_the_body_from_its_start() =>
        base.Slow_first_step_of_a_Parallel_ForEachAsync_body_is_reported_as_the_body_from_its_start();

    [Fact]
    public void The_slow_and_hung_steps_are_reported_once_each_and_nothing_else()
    {
        Assert.True(Scenario.Result.ExitCode == 0, Scenario.Result.ToString());
        // The Parallel.ForEachAsync body's report is neither expected nor forbidden (see RuntimeAsyncFirstStepMissedSometimes).
        var actual = Scenario.All.Select(r => $"{r.Kind()} {r.Method()}").Where(r => r != ParallelBodyReport).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(StepReports.Order(StringComparer.Ordinal), actual);
    }

    [Fact]
    public void A_slow_step_reads_as_on_the_TPL_events_but_for_its_task()
    {
        // Its thread is known by its managed id: the thread entered the app's execution context to run it (ContextEntries).
        var expected = TextReportTests.SlowStepText("asynclens: slow-step: SlowStep.HandleAsync(int) ran <s> s on thread <n> without yielding");
        var pattern = "^" + Regex.Escape(expected).Replace("<s>", @"0\.[0-9]{3}").Replace("<n>", "[0-9]+") + "$";
        Assert.Matches(new Regex(pattern), _run.Text.Stderr);
        Assert.Equal(0, _run.Text.ExitCode);
    }
}
