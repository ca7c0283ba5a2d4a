using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AsyncLens.Bench.Load;

/// <summary>
/// <c>Concurrency</c> client loops, each sending requests back to back over its own keep-alive HTTP/1.1
/// connection: <c>PostPercent</c>% <c>POST /orders</c> (a new order of 10-20 lines), the rest
/// <c>GET /orders/{id}</c> of a random seeded order. The loops run without a break from the first
/// warm-up slice to the end of the last round; the windows are cut by reading <c>/stats</c> from the
/// server (on a connection of its own), so requests/s and CPU per request are the server's own counts
/// between two snapshots. Latency is measured here, from sending a request to having read its whole
/// response, for the requests sent during the timed rounds.
/// </summary>
internal sealed class LoadGenerator(Uri url, LoadSettings settings) : IDisposable
{
    private const int SliceMs = 500;
    private const int QuietMethods = 10;
    private const int QuietSlices = 3; // tiering comes in waves with pauses between them: wait out 1.5 s of quiet

    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    private readonly HttpClient _api = new(Handler(settings.Concurrency)) { BaseAddress = url };
    private readonly HttpClient _control = new(Handler(1)) { BaseAddress = url };
    private readonly byte[][] _bodies = NewOrders(count: 256);
    private readonly List<double>[] _latencies = [.. Enumerable.Range(0, settings.Concurrency).Select(_ => new List<double>(16_384))];
    private volatile bool _stop;
    private volatile bool _recording;
    private long _errors;
    private string? _firstError;

    public async Task<string> RunAsync()
    {
        await WaitForServerAsync();
        var workers = Enumerable.Range(0, settings.Concurrency).Select(i => Task.Run(() => Client(i))).ToArray();
        List<Window> rounds;
        (TimeSpan Elapsed, bool Settled) warmup;
        Window total;
        TimeSpan driverCpu;
        DateTimeOffset roundsFrom, roundsTo;
        var roundEnds = new List<long>(settings.Rounds);
        try
        {
            warmup = await WarmUpAsync();
            var driverCpuBefore = Environment.CpuUsage.TotalTime;
            _recording = true;
            roundsFrom = DateTimeOffset.UtcNow;
            var first = await StatsAsync();
            var previous = first;
            rounds = new List<Window>(settings.Rounds);
            for (var i = 0; i < settings.Rounds; i++)
            {
                await Task.Delay(settings.RoundMs);
                var next = await StatsAsync();
                rounds.Add(new Window(previous, next));
                roundEnds.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                previous = next;
            }
            _recording = false;
            roundsTo = DateTimeOffset.UtcNow;
            driverCpu = Environment.CpuUsage.TotalTime - driverCpuBefore;
            total = new Window(first, previous);
        }
        finally
        {
            _stop = true;
            await Task.WhenAll(workers);
        }

        Console.Error.WriteLine("AsyncLens.Bench.Load: rounds (req/s, server CPU µs/req): " + string.Join(' ',
            rounds.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.RequestsPerSecond:F0}/{r.CpuMicrosecondsPerRequest:F2}"))));
        // When each round ended (its start: the previous end, the first's rounds_from_ms): a script that changes
        // something during the rounds (bench/watch-paired.sh attaches and detaches) places each round by it.
        Console.Error.WriteLine("AsyncLens.Bench.Load: round ends (unix ms): " + string.Join(' ', roundEnds));
        if (_firstError is not null)
            Console.Error.WriteLine($"AsyncLens.Bench.Load: {Interlocked.Read(ref _errors)} failed request(s); the first: {_firstError}");

        var latencies = _latencies.SelectMany(l => l).Order().ToArray();
        var rps = rounds.Select(r => r.RequestsPerSecond).ToArray();
        // Each snapshot holds the longest stall and GC pause since the one before: the rounds' own.
        var stallMs = rounds.Max(r => r.After.LongestStallUs) / 1000;
        var gcPauseMs = rounds.Max(r => r.After.LongestGcPauseUs) / 1000;
        return string.Create(CultureInfo.InvariantCulture,
            $"rps={Median(rps):F0} best_rps={rps.Max():F0} cpu_us_per_req={Median([.. rounds.Select(r => r.CpuMicrosecondsPerRequest)]):F1} "
            + $"p50_ms={Percentile(latencies, 50):F2} p90_ms={Percentile(latencies, 90):F2} p99_ms={Percentile(latencies, 99):F2} max_ms={(latencies.Length > 0 ? latencies[^1] : 0):F1} "
            + $"max_stall_ms={stallMs:F1} max_gc_pause_ms={gcPauseMs:F1} "
            + $"driver_cpu_us_per_req={driverCpu.TotalMicroseconds / Math.Max(total.Requests, 1):F1} gc_pause_pct={total.GcPausePercent:F1} "
            + $"alloc_kb_per_req={total.PerRequest(s => s.AllocatedBytes) / 1024:F1} jit_in_rounds={total.After.JitMethods - total.Before.JitMethods} "
            + $"pool_threads={total.After.PoolThreads} debug_mode={(total.After.DebugMode ? "on" : "off")} "
            + $"steps_per_req={Counted(total, s => s.AsyncSteps)} operations_per_req={Counted(total, s => s.AsyncOperations)} "
            + $"suspending_awaits_per_req={Counted(total, s => s.SuspendingAwaits)} "
            + $"warmup_s={warmup.Elapsed.TotalSeconds:F1} jit_settled={(warmup.Settled ? "yes" : "no")} errors={Interlocked.Read(ref _errors)} "
            + $"rounds_from_ms={roundsFrom.ToUnixTimeMilliseconds()} rounds_to_ms={roundsTo.ToUnixTimeMilliseconds()} "
            + $"requests={total.Requests} samples={latencies.Length} rounds={settings.Rounds} round_ms={settings.RoundMs} concurrency={settings.Concurrency} post_pct={settings.PostPercent}");
    }

    /// <summary>
    /// Loads the server in 500 ms slices until tiered compilation has settled in both processes (they
    /// share the machine: the driver's JIT takes CPU from the server too): three slices in a row in
    /// which each compiled fewer than 10 methods, after at least <c>MinWarmupMs</c>; at the latest after <c>WarmupMs</c>.
    /// </summary>
    private async Task<(TimeSpan Elapsed, bool Settled)> WarmUpAsync()
    {
        var watch = Stopwatch.StartNew();
        var quietSlices = 0;
        var slices = new List<string>();
        var previous = await StatsAsync();
        var driverMethods = JitInfo.GetCompiledMethodCount();
        while (watch.ElapsedMilliseconds < settings.WarmupMs)
        {
            await Task.Delay(SliceMs);
            var next = await StatsAsync();
            var slice = new Window(previous, next);
            var serverJit = next.JitMethods - previous.JitMethods;
            var driverJit = JitInfo.GetCompiledMethodCount() - driverMethods;
            driverMethods += driverJit;
            previous = next;
            slices.Add(string.Create(CultureInfo.InvariantCulture, $"{slice.RequestsPerSecond:F0}/{slice.CpuMicrosecondsPerRequest:F0}/j{serverJit}/d{driverJit}"));
            quietSlices = serverJit < QuietMethods && driverJit < QuietMethods ? quietSlices + 1 : 0;
            if (quietSlices >= QuietSlices && watch.ElapsedMilliseconds >= settings.MinWarmupMs)
                break;
        }
        Console.Error.WriteLine("AsyncLens.Bench.Load: warm-up slices (req/s, server CPU µs/req, server methods jitted, driver methods jitted): " + string.Join(' ', slices));
        return (watch.Elapsed, quietSlices >= QuietSlices);
    }

    private async Task WaitForServerAsync()
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await StatsAsync();
                return;
            }
            catch (HttpRequestException) when (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100);
            }
        }
    }

    private async Task<ServerStats> StatsAsync()
    {
        await using var stream = await _control.GetStreamAsync("/stats");
        return await JsonSerializer.DeserializeAsync(stream, LoadJson.Default.ServerStats) ?? throw new InvalidDataException("empty /stats");
    }

    private async Task Client(int index)
    {
        var random = new Random(1_000 + index);
        var latencies = _latencies[index];
        while (!_stop)
        {
            var post = random.Next(100) < settings.PostPercent;
            using var request = post
                ? new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = new ByteArrayContent(_bodies[random.Next(_bodies.Length)]) { Headers = { ContentType = s_json } } }
                : new HttpRequestMessage(HttpMethod.Get, "/orders/" + random.Next(1, 20_001).ToString(CultureInfo.InvariantCulture));
            var recording = _recording;
            var start = Stopwatch.GetTimestamp();
            try
            {
                using var response = await _api.SendAsync(request);
                var body = await response.Content.ReadAsByteArrayAsync();
                var expected = post ? System.Net.HttpStatusCode.Created : System.Net.HttpStatusCode.OK;
                if (response.StatusCode != expected || body.Length < 100)
                    throw new HttpRequestException($"{request.Method} {request.RequestUri}: {(int)response.StatusCode} with {body.Length} bytes");
                if (recording && _recording)
                    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            catch (HttpRequestException ex)
            {
                Interlocked.CompareExchange(ref _firstError, ex.Message, null);
                Interlocked.Increment(ref _errors);
                await Task.Delay(10);
            }
        }
    }

    private static SocketsHttpHandler Handler(int connections) => new()
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        MaxConnectionsPerServer = connections,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    };

    /// <summary>New orders for POST: a known customer and 10-20 lines of catalogue products.</summary>
    private static byte[][] NewOrders(int count)
    {
        var random = new Random(42);
        var bodies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var lines = new List<NewOrderLine>();
            for (var n = random.Next(10, 21); lines.Count < n;)
                lines.Add(new NewOrderLine($"SKU-{random.Next(2_000):D5}", random.Next(1, 6)));
            var order = new NewOrderRequest(random.Next(1, 1_001), "EUR", lines, i % 4 == 0 ? "please ring twice" : null);
            bodies[i] = JsonSerializer.SerializeToUtf8Bytes(order, LoadJson.Default.NewOrderRequest);
        }
        return bodies;
    }

    // A counter of the server's --count-steps per request, or "-" when it does not count.
    private static string Counted(Window window, Func<ServerStats, double> counter) =>
        counter(window.Before) < 0 ? "-" : window.PerRequest(counter).ToString("F1", CultureInfo.InvariantCulture);

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double percent) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    public void Dispose()
    {
        _api.Dispose();
        _control.Dispose();
    }

    /// <summary>The server's counters between two <c>/stats</c> snapshots.</summary>
    private readonly record struct Window(ServerStats Before, ServerStats After)
    {
        public long Requests => After.Requests - Before.Requests;

        public double RequestsPerSecond => Requests / Math.Max((After.UptimeUs - Before.UptimeUs) / 1e6, 1e-9);

        public double CpuMicrosecondsPerRequest => (After.CpuUs - Before.CpuUs) / Math.Max(Requests, 1);

        public double GcPausePercent => 100 * (After.GcPauseUs - Before.GcPauseUs) / Math.Max(After.UptimeUs - Before.UptimeUs, 1);

        /// <summary>A counter's increase per request.</summary>
        public double PerRequest(Func<ServerStats, double> counter) => (counter(After) - counter(Before)) / Math.Max(Requests, 1);
    }
}

internal sealed record ServerStats(long Requests, double UptimeUs, double CpuUs, long JitMethods, double GcPauseUs, long AllocatedBytes,
    int PoolThreads, double LongestStallUs, double LongestGcPauseUs, bool DebugMode, long AsyncSteps, long AsyncOperations, long SuspendingAwaits);

internal sealed record NewOrderRequest(int CustomerId, string Currency, List<NewOrderLine> Lines, string? Note);

internal sealed record NewOrderLine(string Sku, int Quantity);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ServerStats))]
[JsonSerializable(typeof(NewOrderRequest))]
internal sealed partial class LoadJson : JsonSerializerContext;
