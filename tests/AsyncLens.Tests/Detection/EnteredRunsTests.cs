using AsyncLens.Detection;
using AsyncLens.Reporting;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>
/// On .NET 11's async events alone a thread leaving the app's context tells whether its run was slow from the tick clock
/// (<see cref="DetectionSettings.RoughNow"/>), reading the precise one only when it may be (SlowSteps.EnteredRuns.cs):
/// every await resumed on the pool leaves it. The tick clock lags the precise one by up to a tick, so the test makes up
/// for that lag: a run exactly at the threshold is still noted, one well below it is not.
/// </summary>
public sealed class EnteredRunsTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    private static readonly DetectionSettings s_settings = new(new AsyncDebugOptions { SlowStepThreshold = TimeSpan.FromMilliseconds(100) });

    [Fact]
    public void The_tick_clock_is_never_below_the_precise_one_by_more_than_its_error()
    {
        DetectionSettings.Calibrate();
        var lowest = long.MaxValue;
        for (var i = 0; i < 200_000; i++)
        {
            var precise = DetectionSettings.Now;
            lowest = Math.Min(lowest, DetectionSettings.RoughNow - precise);
        }
        Assert.True(lowest >= -DetectionSettings.RoughError, $"the tick clock read {-lowest / (double)Ms:F1} ms below the precise one");
    }

    [Fact]
    public void A_run_left_at_the_threshold_is_noted_however_far_the_tick_clock_lags()
    {
        // Left at once after its start was put 100 ms back: the tick clock reads its 100 ms up to a tick short.
        for (var i = 0; i < 20; i++)
            Assert.True(LeftAfter(s_settings.SlowTicks), $"run {i} of exactly the threshold was not noted");
    }

    [Fact]
    public void A_run_left_well_below_the_threshold_is_not_noted()
    {
        Assert.False(LeftAfter(s_settings.SlowTicks - DetectionSettings.RoughError - 30 * Ms));
        Assert.False(LeftAfter(0));
    }

    // A run entered `ago` before now on a thread of its own, left now: whether it was noted for the watchdog.
    private static bool LeftAfter(long ago)
    {
        var steps = new SlowSteps(s_settings, new Sink(), TimeProvider.System, _ => null, new Stalls());
        var noted = false;
        var thread = new Thread(() =>
        {
            var tracker = ThreadTracker.Current;
            var start = DetectionSettings.Now - ago;
            tracker.EnteredBaseline = tracker.Baseline(start);
            tracker.EnteredAt = start;
            steps.OnEnteredRunLeft(tracker);
            noted = tracker.LeftRun is not null;
        });
        thread.Start();
        thread.Join();
        return noted;
    }

    private sealed class Sink : IFindingSink
    {
        public void Add(Finding finding)
        {
        }
    }
}
