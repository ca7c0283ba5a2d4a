using AsyncLens.Diagnosis;
using Xunit;

namespace AsyncLens.Tests.Diagnosis;

/// <summary>
/// The in-process reading of a starving pool (the watchdog's, the console's <c>pool</c>): the pool's figures judged by
/// the doctor's rule, the waits seen begin grouped in the doctor's shape.
/// </summary>
public sealed class PoolWaitsTests
{
    private static readonly PoolWaitGroup s_lock = new([301, 302], "entering a lock, held by the thread 'month-end close' (os 290)", false);
    private static readonly PoolWaitGroup s_task = new([303], "in `Orders.Total(int)` at /src/Orders.cs:24 waiting (.Result) for a task", true);

    [Fact]
    public void Starved_by_the_doctors_rule_the_waits_seen_are_named_in_the_doctors_shape()
    {
        // 14 busy, 1 on a processor: 13 waiting of 15, work queued.
        var starved = new PoolFigures(15, 2, 32767, 14, 1, 1800, 40);

        Assert.Equal("pool-starvation: 13 of 15 pool threads blocked; 2 entering a lock, held by the thread 'month-end close' (os 290); 1 in `Orders.Total(int)` at /src/Orders.cs:24 waiting (.Result) for a task; 1,800 work items queued",
            PoolWaits.Describe(starved, [s_lock, s_task], PoolWaits.Window));
        // Every blocked worker seen, one group: the doctor's first form.
        Assert.Equal("pool-starvation: 2 of 2 pool threads blocked entering a lock, held by the thread 'month-end close' (os 290); 5 work items queued",
            PoolWaits.Describe(new PoolFigures(2, 2, 2, 2, 0, 5, 0), [s_lock], PoolWaits.Window));
    }

    [Fact]
    public void Not_starved_the_waits_seen_are_said_without_a_verdict()
    {
        // 2 of 8 waiting: under the doctor's share; and with nothing queued, not starved whatever waits.
        Assert.Equal("3 pool threads began a blocking wait in the 2 s after it began, the pool not starved (2 of 8 blocked): 2 entering a lock, held by the thread 'month-end close' (os 290); 1 in `Orders.Total(int)` at /src/Orders.cs:24 waiting (.Result) for a task",
            PoolWaits.Describe(new PoolFigures(8, 2, 32767, 4, 2, 100, 0), [s_lock, s_task], PoolWaits.Window));
        Assert.StartsWith("2 pool threads began a blocking wait", PoolWaits.Describe(new PoolFigures(2, 2, 2, 2, 0, 0, 0), [s_lock], PoolWaits.Window), StringComparison.Ordinal);
    }
}
