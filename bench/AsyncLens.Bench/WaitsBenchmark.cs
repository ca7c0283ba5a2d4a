using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// A target for bench/watch-cost.sh, which attaches <c>asynclens watch</c> to it and detaches in turn: each of
/// <c>threads</c> threads waits 1 ms on an event nobody sets, again and again (a wait that blocks: with the runtime's
/// WaitHandle keyword on, as watch's session has it, each raises exactly two events, WaitHandleWait/Start and /Stop;
/// with no session, none). With 0 threads the process only idles (what the session costs a process that raises none of
/// its events: the counters, the buffers' flushing). Every round prints one line on standard output,
/// <c>ROUND end_unix_ms waits cpu_us</c> (the process's CPU over the round, every thread's), until
/// <c>seconds</c> have passed; nothing else is timed here, the pairing with watch is the script's.
/// </summary>
internal static class WaitsBenchmark
{
    private static long s_waits;

    public static async Task<string> RunAsync(int threads, int seconds, int roundMs)
    {
        using var never = new ManualResetEvent(false);
        using var stop = new CancellationTokenSource();
        var waiters = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            long mine = 0;
            while (!stop.IsCancellationRequested)
            {
                never.WaitOne(1);
                // Counted in batches: one shared increment per wait would add contention between the threads.
                if (++mine % 64 == 0)
                    Interlocked.Add(ref s_waits, 64);
            }
        }) { Name = $"waiter {i}", IsBackground = true }).ToList();
        waiters.ForEach(t => t.Start());

        var clock = Stopwatch.StartNew();
        var rounds = 0;
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var waitsBefore = Interlocked.Read(ref s_waits);
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            await Task.Delay(roundMs);
            var cpu = Environment.CpuUsage.TotalTime;
            var waits = Interlocked.Read(ref s_waits);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ROUND {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()} {waits - waitsBefore} {(cpu - cpuBefore).TotalMicroseconds:0}"));
            (cpuBefore, waitsBefore) = (cpu, waits);
            rounds++;
        }
        stop.Cancel();
        waiters.ForEach(t => t.Join());
        return string.Create(CultureInfo.InvariantCulture, $"threads={threads} rounds={rounds} waits={Interlocked.Read(ref s_waits)}");
    }
}
