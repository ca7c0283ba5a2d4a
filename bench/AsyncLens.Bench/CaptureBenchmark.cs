using System.Diagnostics;
using AsyncLens.Agent;

namespace AsyncLens.Bench;

/// <summary>
/// What the console's history costs an app's thread each time an async method ends in debug mode, alone: the capture
/// (<see cref="TerminatedHistory.Capture"/>: its awaiter chain read, one ring slot written) of the leaf of a chain of
/// three async methods, timed by the process's CPU time (this loop is its only busy thread) and by the wall clock.
/// Twice a round: into a fresh history (every end captured, as below N ends a second) and into one drained after each
/// round (200,000 ends a sweep: one in 200 captured, <see cref="TerminatedHistory.Stride"/>), the cost per end of a
/// busy app.
/// </summary>
internal static class CaptureBenchmark
{
    private const int PerRound = 200_000;

    public static async Task<string> RunAsync(int rounds)
    {
        var gate = new TaskCompletionSource();
        var leaf = LeafAsync(gate.Task);
        var outer = OuterAsync(MiddleAsync(leaf));
        var busy = new TerminatedHistory(TerminatedHistory.DefaultSize);
        var process = Process.GetCurrentProcess();
        Capture(new TerminatedHistory(TerminatedHistory.DefaultSize), leaf, PerRound); // warm-up: the JIT
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        Capture(new TerminatedHistory(TerminatedHistory.DefaultSize), leaf, PerRound);
        var bytes = (double)(GC.GetAllocatedBytesForCurrentThread() - allocated) / PerRound;
        var cpu = new List<double>();
        var wall = new List<double>();
        var sampled = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var (roundCpu, roundWall) = Timed(process, new TerminatedHistory(TerminatedHistory.DefaultSize), leaf);
            cpu.Add(roundCpu);
            wall.Add(roundWall);
            sampled.Add(Timed(process, busy, leaf).Cpu);
            busy.Drain(); // the sweeper's part, off the clock: the leaf is pending, nothing becomes an entry
        }
        gate.SetResult();
        await outer;
        return FormattableString.Invariant($"capture_cpu_us={Stats.Median(cpu):F3} capture_wall_us={Stats.Median(wall):F3} best_cpu_us={cpu.Min():F3} bytes={bytes:F0} sampled_cpu_us={Stats.Median(sampled):F3} stride={busy.Stride} rounds={rounds} per_round={PerRound}");
    }

    private static (double Cpu, double Wall) Timed(Process process, TerminatedHistory history, Task leaf)
    {
        process.Refresh();
        var cpuStart = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Capture(history, leaf, PerRound);
        var wall = clock.Elapsed.TotalMicroseconds / PerRound;
        process.Refresh();
        return ((process.TotalProcessorTime - cpuStart).TotalMicroseconds / PerRound, wall);
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
