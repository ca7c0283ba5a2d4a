using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace AsyncLens.Bench;

/// <summary>
/// The await micro-benchmark: <c>await Mid()</c> in a loop, where <c>Mid</c> awaits <c>Leaf</c> and
/// <c>Leaf</c> awaits <c>Task.Yield()</c>, so every iteration suspends for real and resumes on the
/// thread pool through two async methods. The same shape as bench/python/asyncio_await.py.
/// The <c>work</c> shape is the same loop with real work in every step (<see cref="Request"/>), for a profiler's
/// overhead where the awaits are not all there is. The <c>task-run</c> shape awaits <c>Task.Run(() => Leaf())</c>: a
/// delegate task's run, and the box it creates.
/// </summary>
internal static class AwaitBenchmark
{
    private static readonly byte[] s_payload = new byte[16 * 1024];
    private static readonly byte[] s_digest = new byte[32];

    public static async Task<string> RunAsync(int warmupMs, int rounds, int roundMs, string shape = "await")
    {
        Func<long, Task> loop = shape switch { "work" => WorkLoop, "task-run" => RunLoop, _ => Loop };
        long total = 0;
        // Warm-up until the JIT has settled: in debug mode tiered compilation recompiles several
        // hundred methods (the engine's and the runtime's event paths) for 2-3 s after Enable(), and
        // awaits cost several times their steady-state price meanwhile. The last slice sizes the rounds.
        const int SliceMs = 200;
        const int QuietMethods = 10;
        const int QuietSlices = 5; // tiering comes in waves with pauses between them: wait out 1 s of quiet
        var minMs = Math.Min(1_000, warmupMs);
        var warmup = Stopwatch.StartNew();
        var quietSlices = 0;
        var sliceUs = 0.0;
        while (warmup.ElapsedMilliseconds < warmupMs && !(quietSlices >= QuietSlices && warmup.ElapsedMilliseconds >= minMs))
        {
            var methods = JitInfo.GetCompiledMethodCount();
            var slice = Stopwatch.StartNew();
            long done = 0;
            while (slice.ElapsedMilliseconds < SliceMs)
            {
                await loop(200);
                done += 200;
            }
            total += done;
            sliceUs = slice.Elapsed.TotalMicroseconds / done;
            quietSlices = JitInfo.GetCompiledMethodCount() - methods < QuietMethods ? quietSlices + 1 : 0;
        }
        var settled = quietSlices >= QuietSlices;
        var iterations = (long)Math.Max(1_000, roundMs * 1_000 / sliceUs);

        var perIteration = new List<double>(rounds);
        var detail = new List<string>(rounds);
        for (var round = 0; round < rounds; round++)
        {
            var (gcs, cpu, methods) = (GC.CollectionCount(0), Environment.CpuUsage.TotalTime, JitInfo.GetCompiledMethodCount());
            var watch = Stopwatch.StartNew();
            await loop(iterations);
            total += iterations;
            var elapsed = watch.Elapsed;
            perIteration.Add(elapsed.TotalMicroseconds / iterations);
            detail.Add(string.Create(CultureInfo.InvariantCulture,
                $"{perIteration[^1]:F2}us/cpu{(Environment.CpuUsage.TotalTime - cpu) / elapsed:F2}/gc{GC.CollectionCount(0) - gcs}/j{JitInfo.GetCompiledMethodCount() - methods}/t{ThreadPool.ThreadCount}"));
        }
        // Every round (µs per iteration, CPU time / wall time, gen0 GCs, methods jitted, pool threads),
        // for a closer look: the scripts keep standard error in their log directory.
        Console.Error.WriteLine("AsyncLens.Bench: rounds: " + string.Join(' ', detail));
        return string.Create(CultureInfo.InvariantCulture,
            $"best_us={perIteration.Min():F3} median_us={Stats.Median(perIteration):F3} rounds={rounds} iterations={iterations} warmup_s={warmup.Elapsed.TotalSeconds:F1} jit_settled={(settled ? "yes" : "no")} total_iterations={total}");
    }

    private static async Task Loop(long iterations)
    {
        for (long i = 0; i < iterations; i++)
            await Mid();
    }

    // `await Task.Run(() => Leaf())`: a delegate task whose run creates a box, judged at its end (SlowSteps.Delegates.cs).
    private static async Task RunLoop(long iterations)
    {
        for (long i = 0; i < iterations; i++)
            await Task.Run(() => Leaf());
    }

    private static async Task Mid()
    {
        await Leaf();
    }

    private static async Task Leaf()
    {
        await Task.Yield();
    }

    private static async Task WorkLoop(long iterations)
    {
        for (long i = 0; i < iterations; i++)
            await Request();
    }

    // Three async methods, two real suspensions, SHA-256 of 16 KB in three steps (OpenSSL's, as Python's hashlib).
    private static async Task Request()
    {
        await Parse();
        Hash();
        await Store();
    }

    private static async Task Parse()
    {
        await Task.Yield();
        Hash();
    }

    private static async Task Store()
    {
        await Task.Yield();
        Hash();
    }

    private static void Hash() => System.Security.Cryptography.SHA256.HashData(s_payload, s_digest);
}
