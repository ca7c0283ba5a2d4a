using AsyncLens.Detection;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>
/// Time the whole process stood still, from recorded intervals: the runtime's suspensions (its GC events), the GC pause
/// time the runtime counted, and the watchdog's unexplained lateness. Ticks are milliseconds here, for reading.
/// </summary>
public sealed class StallsTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    [Fact]
    public void A_suspension_counts_for_as_much_of_it_as_the_step_shares()
    {
        var stalls = new Stalls();
        stalls.OnSuspension(1_000 * Ms, 1_126 * Ms, gcIndex: 7); // a GC whose threads took 120 ms to reach a safe point
        Assert.Equal(126 * Ms, stalls.During(900 * Ms, 1_200 * Ms, gcPauses: 5 * Ms));
        Assert.Equal(26 * Ms, stalls.During(1_100 * Ms, 1_300 * Ms, gcPauses: 0));
        Assert.Equal(0, stalls.During(1_200 * Ms, 1_300 * Ms, gcPauses: 0));
    }

    [Fact]
    public void The_gc_pause_time_stands_in_for_suspensions_whose_events_are_not_in_yet()
    {
        var stalls = new Stalls();
        Assert.Equal(40 * Ms, stalls.During(0, 500 * Ms, gcPauses: 40 * Ms));
        stalls.OnSuspension(100 * Ms, 110 * Ms, gcIndex: 1);
        Assert.Equal(40 * Ms, stalls.During(0, 500 * Ms, gcPauses: 40 * Ms));
    }

    [Fact]
    public void Lateness_of_the_watchdog_that_a_suspension_explains_is_not_counted_twice()
    {
        var stalls = new Stalls();
        // The watchdog slept 25 ms from 1000 and woke at 1185: 160 ms it cannot explain by its own time...
        stalls.OnWake(1_000 * Ms, 1_185 * Ms, 25 * Ms, explained: 0);
        Assert.Equal(160 * Ms, stalls.During(900 * Ms, 1_300 * Ms, gcPauses: 0));
        // ...of which 100 ms were a suspension whose events came later.
        stalls.OnSuspension(1_050 * Ms, 1_150 * Ms, gcIndex: -1);
        Assert.Equal(160 * Ms, stalls.During(900 * Ms, 1_300 * Ms, gcPauses: 0));
        // A step that shares part of the watchdog's interval: the suspension's share (50 ms), and the benefit of the
        // doubt for the rest of the stall it shares (85 ms shared, less those 50).
        Assert.Equal(50 * Ms + 35 * Ms, stalls.During(1_100 * Ms, 1_200 * Ms, gcPauses: 0));
    }

    [Fact]
    public void Jitter_below_20_ms_is_not_a_stall()
    {
        var stalls = new Stalls();
        stalls.OnWake(0, 44 * Ms, 25 * Ms, explained: 0);
        Assert.Equal(0, stalls.During(0, 100 * Ms, gcPauses: 0));
    }
}
