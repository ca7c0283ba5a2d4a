using AsyncLens.Attribution;
using AsyncLens.Detection;
using AsyncLens.Tests.Attribution;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>
/// Whether a step still running past the hung threshold is reported at a watchdog tick: while the process warms up
/// (<see cref="StretchEvidence.Judged"/>), only for a cause named in the app's code, as a slow step's end is; on figures
/// recorded from DbWorker runs, over the IL of <see cref="Samples"/>.
/// </summary>
public sealed class HungStepTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    // DbWorker count-sync under three CPU burners: every await of the scenario completed at once, so Main's step after its
    // first await (a switch over the scenarios: its branches call different things) ran all of it. At the tick past 1 s:
    // 1.195 s of wall time, 1.008 s its own, 0.124 s on a CPU and 0.884 s blocked, 0.324 s compiled by the process
    // meanwhile (none of it AsyncLens's). It ended at 1.18 s, judged warm-up, naming nothing.
    private static readonly StretchEvidence s_warming = new(StretchLocatorTests.Machine(nameof(Samples.RunScenarioAsync)), 0, -1, 1.008, Ongoing: true)
    {
        ProcessJitTicks = 324 * Ms,
        FromTicks = 0,
        ToTicks = 1_195 * Ms,
        Time = new TimeSplit(OnCpu: 124 * Ms, Blocked: 884 * Ms),
    };

    [Fact]
    public void A_step_past_the_hung_threshold_naming_nothing_while_the_process_compiles_a_tenth_of_it_is_not_reported_yet()
    {
        Assert.False(SlowSteps.HungNow(s_warming, engineJitTicks: 0));
        // Framework code too (a library's first connections), whatever its split.
        var framework = typeof(SemaphoreSlim).GetMethod("WaitUntilCountOrTimeoutAsync", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!
            .GetCustomAttributes(typeof(System.Runtime.CompilerServices.AsyncStateMachineAttribute), false).Cast<System.Runtime.CompilerServices.AsyncStateMachineAttribute>().Single().StateMachineType;
        Assert.False(SlowSteps.HungNow(s_warming with { StateMachine = framework, Time = new TimeSplit(OnCpu: 1_000 * Ms, Blocked: 8 * Ms) }, 0));
    }

    [Fact]
    public void A_hang_is_reported_once_the_process_compiled_less_than_a_tenth_of_it()
    {
        // The same step at a later tick, having compiled nothing more: a hang in progress.
        Assert.True(SlowSteps.HungNow(s_warming with { Seconds = 3.3, ToTicks = 3_500 * Ms }, engineJitTicks: 0));
        // A hang in a process that compiled little (5 ms), or whose compiling was mostly AsyncLens's own reporter's.
        Assert.True(SlowSteps.HungNow(s_warming with { ProcessJitTicks = 5 * Ms }, 0));
        Assert.True(SlowSteps.HungNow(s_warming, engineJitTicks: 300 * Ms));
    }

    [Fact]
    public void A_step_of_the_apps_code_computing_while_the_process_compiles_a_tenth_of_it_is_reported_at_a_later_tick()
    {
        // EF Core's first query building its model in the first step of an async method of the app's (DbWorker ef-sync
        // under three CPU burners: the caller's step reported hung at 1.0 s in 4 of 4 runs, its end judged warm-up on
        // its own thread's compiling). Not yet: judged again at the next tick and at its end.
        var computing = s_warming with { Time = new TimeSplit(OnCpu: 1_000 * Ms, Blocked: 8 * Ms) };
        Assert.False(SlowSteps.HungNow(computing, 0));
        // Computing on, compiling nothing more: a hang.
        Assert.True(SlowSteps.HungNow(computing with { Seconds = 3.3, ToTicks = 3_500 * Ms }, 0));
    }

    [Fact]
    public void A_step_past_the_hung_threshold_whose_code_names_a_blocking_call_is_reported_while_the_process_warms_up()
    {
        // Blocked in a branch whose only blocking call is a sleep: named, as the same step's end would be.
        Assert.True(SlowSteps.HungNow(s_warming with { StateMachine = StretchLocatorTests.Machine(nameof(Samples.MaybeSleepAsync)) }, 0));
    }
}
