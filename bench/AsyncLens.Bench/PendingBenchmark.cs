using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// Many pending tasks at once: N async methods (default 1,000,000), each parked on one never-completed gate, are
/// created; then the process idles for a few seconds (the inventory's sweeps run meanwhile), and the gate is opened
/// so that all of them complete at once. Prints the time to create them, the managed heap (after a full GC) and the
/// process's resident memory after creating them and after idling, and the time to complete them.
/// </summary>
internal static class PendingBenchmark
{
    public static async Task<string> RunAsync(int count, int idleSeconds)
    {
        var gate = new TaskCompletionSource();
        var tasks = new Task[count];
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
            tasks[i] = ParkAsync(gate.Task);
        var create = watch.Elapsed.TotalSeconds;
        var (heap, rss) = Memory();
        await Task.Delay(TimeSpan.FromSeconds(idleSeconds));
        var (idleHeap, idleRss) = Memory();
        watch.Restart();
        gate.SetResult();
        await Task.WhenAll(tasks);
        var complete = watch.Elapsed.TotalSeconds;
        var peak = Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20);
        return string.Create(CultureInfo.InvariantCulture,
            $"tasks={count} create_s={create:F2} heap_mb={heap} rss_mb={rss} idle_s={idleSeconds} idle_heap_mb={idleHeap} idle_rss_mb={idleRss} complete_s={complete:F2} peak_rss_mb={peak}");
    }

    private static (long HeapMb, long RssMb) Memory()
    {
        var heap = GC.GetTotalMemory(forceFullCollection: true) / (1 << 20);
        using var self = Process.GetCurrentProcess();
        return (heap, self.WorkingSet64 / (1 << 20));
    }

    private static async Task ParkAsync(Task gate) => await gate;
}
