using System.Diagnostics;
using AsyncLens.Agent;

namespace AsyncLens.Bench;

/// <summary>
/// What the console's history costs an app's thread each time an async method ends in debug mode, alone: the capture
/// (<see cref="TerminatedHistory.Capture"/>: its awaiter chain read, one ring slot written) of the leaf of a chain of
/// three async methods, timed by the process's CPU time (this loop is its only busy thread) and by the wall clock.
/// </summary>
internal static class CaptureBenchmark
{
    private const int PerRound = 200_000;

    public static async Task<string> RunAsync(int rounds)
    {
        var gate = new TaskCompletionSource();
        var leaf = LeafAsync(gate.Task);
        var outer = OuterAsync(MiddleAsync(leaf));
        var history = new TerminatedHistory(TerminatedHistory.DefaultSize);
        var process = Process.GetCurrentProcess();
        Capture(history, leaf, PerRound); // warm-up: the JIT
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        Capture(history, leaf, PerRound);
        var bytes = (double)(GC.GetAllocatedBytesForCurrentThread() - allocated) / PerRound;
        var cpu = new List<double>();
        var wall = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            Capture(history, leaf, PerRound);
            wall.Add(clock.Elapsed.TotalMicroseconds / PerRound);
            process.Refresh();
            cpu.Add((process.TotalProcessorTime - cpuStart).TotalMicroseconds / PerRound);
            history.Drain(); // the sweeper's part, off the clock: the leaf is pending, nothing becomes an entry
        }
        gate.SetResult();
        await outer;
        return FormattableString.Invariant($"capture_cpu_us={Stats.Median(cpu):F3} capture_wall_us={Stats.Median(wall):F3} best_cpu_us={cpu.Min():F3} bytes={bytes:F0} rounds={rounds} per_round={PerRound}");
    }

    private static void Capture(TerminatedHistory history, Task leaf, int count)
    {
        for (var i = 0; i < count; i++)
            history.Capture(leaf, 0, null, DateTime.UtcNow.Ticks);
    }

    private static async Task LeafAsync(Task gate) => await gate;

    private static async Task MiddleAsync(Task leaf) => await leaf;

    private static async Task OuterAsync(Task middle) => await middle;
}
