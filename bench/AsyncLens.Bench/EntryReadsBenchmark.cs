using System.Diagnostics;
using System.Globalization;
using AsyncLens.Detection;
using AsyncLens.Tracking;

namespace AsyncLens.Bench;

/// <summary>
/// What debug mode on .NET 11's async events alone reads on the app's thread as it enters and leaves the app's execution
/// context (every await resumed on the pool does both: DebugEngine.WorkItems.cs, SlowSteps.EnteredRuns.cs), each read
/// alone in a loop on one thread: the precise clock (<see cref="DetectionSettings.Now"/>), the tick clock
/// (<see cref="DetectionSettings.RoughNow"/>), the thread's compilation counter, its figures as last read
/// (<see cref="ThreadTracker.Baseline"/> within its 10 ms) and its scheduler figures read afresh. ns per read, the median
/// of 9 passes, and each read's ratio to the precise clock's, taken in the same process.
/// </summary>
internal static class EntryReadsBenchmark
{
    private static long s_sink;

    public static string Run(int reads)
    {
        var tracker = ThreadTracker.Current;
        var precise = Time(reads, () => s_sink += DetectionSettings.Now);
        var rough = Time(reads, () => s_sink += DetectionSettings.RoughNow);
        var jit = Time(reads, () => s_sink += RuntimeTime.JitOnThisThread);
        var baseline = Time(reads, () => s_sink += tracker.Baseline(DetectionSettings.RoughNow).Jit);
        var sched = Time(reads / 100, () => s_sink += tracker.OwnTimes().OnCpu);
        return string.Create(CultureInfo.InvariantCulture,
            $"now_ns={precise:F1} rough_ns={rough:F1} jit_ns={jit:F1} baseline_ns={baseline:F1} sched_ns={sched:F0} rough_ratio={rough / precise:F2} jit_ratio={jit / precise:F2} reads={reads}");
    }

    // The baseline's loop reads the tick clock too (its `now`): its figure is the two together.
    private static double Time(int reads, Action read)
    {
        for (var i = 0; i < reads / 10; i++)
            read();
        var passes = new List<double>(9);
        for (var pass = 0; pass < 9; pass++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < reads; i++)
                read();
            passes.Add(watch.Elapsed.TotalNanoseconds / reads);
        }
        return Stats.Median(passes);
    }
}
