using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace AsyncLens.Bench;

/// <summary>
/// The service-like workload: <c>concurrency</c> clients each send simulated order requests back to
/// back to an in-process <see cref="OrderEndpoint"/> for a fixed time per round. Reports requests
/// per second (median and best round), process CPU time per request (all threads, so debug
/// mode's own threads are counted too), the share of wall time spent in GC pauses and the longest
/// deserialization stretch of one request (see <see cref="LongestStep"/>).
/// </summary>
internal static class ServiceBenchmark
{
    public static async Task<string> RunAsync(int warmupMs, int rounds, int roundMs, int concurrency, int payloadKb)
    {
        var bodies = OrderEndpoint.SampleRequests(count: 256, payloadKb);
        await using var endpoint = new OrderEndpoint();

        var warmup = await WarmUp(endpoint, bodies, concurrency, warmupMs);
        LongestStep.Reset();
        var gcPauseBefore = GC.GetTotalPauseDuration();
        // Methods compiled during the timed rounds: a run whose JIT had not settled measures the JIT too.
        var jittedBefore = JitInfo.GetCompiledMethodCount();
        var gen0Before = GC.CollectionCount(0);
        var threadsBefore = ThreadCpu.Read();
        var measured = Stopwatch.StartNew();
        var perRound = new List<Round>(rounds);
        for (var i = 0; i < rounds; i++)
            perRound.Add(await RunRound(endpoint, bodies, concurrency, roundMs));
        var gcPausePercent = 100 * (GC.GetTotalPauseDuration() - gcPauseBefore) / measured.Elapsed;
        var jitted = JitInfo.GetCompiledMethodCount() - jittedBefore;
        var gen0PerSecond = (GC.CollectionCount(0) - gen0Before) / measured.Elapsed.TotalSeconds;
        // Every round, for a closer look: the scripts keep standard error in their log directory.
        Console.Error.WriteLine("AsyncLens.Bench: CPU ms by thread name in the rounds: " + ThreadCpu.Since(threadsBefore));
        Console.Error.WriteLine("AsyncLens.Bench: rounds (req/s, CPU µs/req): " + string.Join(' ',
            perRound.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.RequestsPerSecond:F0}/{r.CpuMicrosecondsPerRequest:F0}"))));

        var rps = perRound.Select(r => r.RequestsPerSecond).ToArray();
        var cpu = perRound.Select(r => r.CpuMicrosecondsPerRequest).ToArray();
        return string.Create(CultureInfo.InvariantCulture,
            $"rps={Stats.Median(rps):F0} best_rps={rps.Max():F0} cpu_us_per_req={Stats.Median(cpu):F1} gc_pause_pct={gcPausePercent:F1} max_step_ms={LongestStep.Value.TotalMilliseconds:F1} warmup_s={warmup.Elapsed.TotalSeconds:F1} jit_settled={(warmup.Settled ? "yes" : "no")} jitted_in_rounds={jitted} gen0_per_s={gen0PerSecond:F1} rounds={rounds} round_ms={roundMs} concurrency={concurrency} payload_kb={payloadKb}");
    }

    /// <summary>
    /// Serves requests in 500 ms slices until the JIT is done: tiered compilation (tier 0, instrumented,
    /// then tier 1 with PGO) takes seconds to settle with 64 requests competing for 2 cores, and much
    /// longer on a busy machine (longer still in debug mode, where every request runs more code).
    /// Done when three slices in a row compiled fewer than 10 methods, after at least 2 s; otherwise
    /// it stops unsettled after <paramref name="maxMs"/>.
    /// </summary>
    private static async Task<(TimeSpan Elapsed, bool Settled)> WarmUp(OrderEndpoint endpoint, byte[][] bodies, int concurrency, int maxMs)
    {
        const int SliceMs = 500;
        const int QuietMethods = 10;
        const int QuietSlices = 3; // tiering comes in waves with pauses between them: wait out 1.5 s of quiet
        var minMs = Math.Min(2_000, maxMs);
        var watch = Stopwatch.StartNew();
        var quietSlices = 0;
        var slices = new List<string>();
        while (watch.ElapsedMilliseconds < maxMs)
        {
            var methods = JitInfo.GetCompiledMethodCount();
            var slice = await RunRound(endpoint, bodies, concurrency, SliceMs);
            methods = JitInfo.GetCompiledMethodCount() - methods;
            slices.Add(string.Create(CultureInfo.InvariantCulture, $"{slice.RequestsPerSecond:F0}/{slice.CpuMicrosecondsPerRequest:F0}/j{methods}"));
            quietSlices = methods < QuietMethods ? quietSlices + 1 : 0;
            if (quietSlices >= QuietSlices && watch.ElapsedMilliseconds >= minMs)
                break;
        }
        var settled = quietSlices >= QuietSlices;
        Console.Error.WriteLine("AsyncLens.Bench: warm-up slices (req/s, CPU µs/req, methods jitted): " + string.Join(' ', slices));
        return (watch.Elapsed, settled);
    }

    private static async Task<Round> RunRound(OrderEndpoint endpoint, byte[][] bodies, int concurrency, int durationMs)
    {
        var stop = new StopFlag();
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var watch = Stopwatch.StartNew();
        var clients = new Task<long>[concurrency];
        for (var c = 0; c < concurrency; c++)
        {
            var client = c;
            clients[c] = Task.Run(() => Client(endpoint, bodies, client, concurrency, stop));
        }
        await Task.Delay(durationMs);
        stop.Set();
        var completed = (await Task.WhenAll(clients)).Sum();
        var elapsed = watch.Elapsed;
        var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        return new Round(completed / elapsed.TotalSeconds, cpu.TotalMicroseconds / Math.Max(completed, 1));
    }

    private static async Task<long> Client(OrderEndpoint endpoint, byte[][] bodies, int client, int concurrency, StopFlag stop)
    {
        long completed = 0;
        for (var next = client; !stop.IsSet; next += concurrency)
        {
            var response = await endpoint.HandleAsync(bodies[next % bodies.Length]);
            if (response.Length == 0)
                throw new InvalidOperationException("empty response");
            completed++;
        }
        return completed;
    }

    private readonly record struct Round(double RequestsPerSecond, double CpuMicrosecondsPerRequest);

    private sealed class StopFlag
    {
        private volatile bool _set;

        public bool IsSet => _set;

        public void Set() => _set = true;
    }
}
