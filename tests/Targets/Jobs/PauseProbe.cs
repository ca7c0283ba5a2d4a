using System.Diagnostics;

namespace Jobs;

/// <summary>
/// A thread of the app's that sleeps 1 ms at a time and keeps the longest it overslept: what it was held up by (a
/// garbage collection, a lock, the CPU taken by someone else) is what the app's own threads feel.
/// </summary>
internal sealed class PauseProbe
{
    private long _maxGapTicks;

    public static PauseProbe Start()
    {
        var probe = new PauseProbe();
        new Thread(probe.Run) { IsBackground = true, Name = "pause probe" }.Start();
        return probe;
    }

    public double TakeMaxGapMs() => TimeSpan.FromTicks(Interlocked.Exchange(ref _maxGapTicks, 0)).TotalMilliseconds;

    private void Run()
    {
        var clock = Stopwatch.StartNew();
        var oneMs = TimeSpan.FromMilliseconds(1).Ticks;
        while (true)
        {
            var before = clock.Elapsed.Ticks;
            Thread.Sleep(1);
            var gap = clock.Elapsed.Ticks - before - oneMs;
            long seen;
            while (gap > (seen = Interlocked.Read(ref _maxGapTicks)) && Interlocked.CompareExchange(ref _maxGapTicks, gap, seen) != seen)
            {
            }
        }
    }
}
