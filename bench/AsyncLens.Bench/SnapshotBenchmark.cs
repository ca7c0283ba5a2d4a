using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// The task inventory at scale: parks N requests (each a chain of three async methods under a
/// <c>Task.WhenAll</c>, awaiting one of a few gates, a semaphore or a delay), then times a snapshot and each
/// coalesced render, and how long the app's threads were held (the registry copy).
/// </summary>
internal static class SnapshotBenchmark
{
    public static async Task<string> RunAsync(int count, int rounds)
    {
        var gates = Enumerable.Range(0, 4).Select(_ => new TaskCompletionSource()).ToArray();
        var semaphore = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource();
        var requests = new Task[count];
        for (var i = 0; i < count; i++)
            requests[i] = ServeAsync(i, gates, semaphore, stop.Token);
        var all = Task.WhenAll(requests);
        await Task.Delay(200);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        using var trace = Environment.GetEnvironmentVariable("GCTRACE") is null ? null : new GcTrace();

        var times = new Dictionary<string, List<double>>
        {
            ["registry"] = [], ["graph"] = [], ["api"] = [], ["stacks"] = [], ["tree"] = [], ["json"] = [],
        };
        var allocated = new Dictionary<string, long>();
        var pending = 0;
        var (gcs, gen2s, paused) = (GC.CollectionCount(0), GC.CollectionCount(2), GC.GetTotalPauseDuration());
        var output = 0L;
        for (var r = 0; r < rounds; r++)
        {
            var watch = Stopwatch.StartNew();
            _ = AsyncDebug.Inventory().RegistryCopy();
            times["registry"].Add(watch.Elapsed.TotalMilliseconds);
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            watch.Restart();
            _ = AsyncDebug.Inventory().Snapshot();
            times["graph"].Add(watch.Elapsed.TotalMilliseconds);
            allocated["graph"] = GC.GetAllocatedBytesForCurrentThread() - bytes;
            bytes = GC.GetAllocatedBytesForCurrentThread();
            watch.Restart();
            pending = AsyncDebug.GetPendingTasks().Count;
            times["api"].Add(watch.Elapsed.TotalMilliseconds);
            allocated["api"] = GC.GetAllocatedBytesForCurrentThread() - bytes;
            foreach (var format in new[] { TaskDumpFormat.Stacks, TaskDumpFormat.Tree, TaskDumpFormat.Json })
            {
                var writer = new CountingWriter();
                bytes = GC.GetAllocatedBytesForCurrentThread();
                watch.Restart();
                AsyncDebug.WriteTasks(writer, format);
                times[format.ToString().ToLowerInvariant()].Add(watch.Elapsed.TotalMilliseconds);
                allocated[format.ToString().ToLowerInvariant()] = GC.GetAllocatedBytesForCurrentThread() - bytes;
                output = Math.Max(output, writer.Count);
            }
        }
        var (gcsDuring, gen2sDuring, pausedDuring) = (GC.CollectionCount(0) - gcs, GC.CollectionCount(2) - gen2s, GC.GetTotalPauseDuration() - paused);
        var after = GC.GetTotalMemory(forceFullCollection: true);

        stop.Cancel();
        foreach (var gate in gates)
            gate.SetResult();
        semaphore.Release(count);
        try
        {
            await all;
        }
        catch (OperationCanceledException)
        {
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"tasks={count} rounds={rounds} pending={pending} registry_ms={Stats.Median(times["registry"]):F1} graph_ms={Stats.Median(times["graph"]):F0} api_ms={Stats.Median(times["api"]):F0} stacks_ms={Stats.Median(times["stacks"]):F0} tree_ms={Stats.Median(times["tree"]):F0} json_ms={Stats.Median(times["json"]):F0} json_mb={output / 1e6:F1} alloc_mb={string.Join("/", allocated.Select(a => $"{a.Key}:{a.Value / 1e6:F0}"))} heap_mb={before / 1e6:F0} gcs={gcsDuring} gen2={gen2sDuring} gc_pause_ms={pausedDuring.TotalMilliseconds:F0} heap_growth_mb={(after - before) / 1e6:F1}");
    }

    private static async Task ServeAsync(int id, TaskCompletionSource[] gates, SemaphoreSlim semaphore, CancellationToken stop)
    {
        await HandleAsync(id, gates, semaphore, stop);
    }

    private static async Task HandleAsync(int id, TaskCompletionSource[] gates, SemaphoreSlim semaphore, CancellationToken stop)
    {
        await Task.WhenAll(QueryAsync(id, gates, semaphore, stop), YieldAsync());
    }

    private static async Task QueryAsync(int id, TaskCompletionSource[] gates, SemaphoreSlim semaphore, CancellationToken stop)
    {
        switch (id % 6)
        {
            case 4:
                await semaphore.WaitAsync(stop);
                break;
            case 5:
                await Task.Delay(Timeout.Infinite, stop);
                break;
            default:
                await gates[id % 4].Task;
                break;
        }
    }

    private static async Task YieldAsync() => await Task.Yield();

    private sealed class CountingWriter : TextWriter
    {
        public long Count { get; private set; }

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value) => Count++;

        public override void Write(string? value) => Count += value?.Length ?? 0;
    }
}
