using System.Runtime.CompilerServices;
using System.Threading.Channels;
// Thousands of fast awaits, combinators, Task.Run, async iterators, ValueTask (pooled too),
// ConfigureAwait(false), cancellation, faults that are observed, channels, semaphores and forced GCs.
// "healthy churn": hundreds of thousands of tasks, printing the managed heap after each round.
if (args is ["churn"])
{
    for (var round = 1; round <= 5; round++)
    {
        for (var i = 0; i < 100_000; i++)
            await Work.Nested(i);
        for (var batch = 0; batch < 20; batch++)
            await Task.WhenAll(Enumerable.Range(0, 1_000).Select(i => Task.Run(() => Work.Nested(i))));
        await Task.Delay(1100); // a registry sweep
        await Task.Run(() => { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); });
        Console.WriteLine($"round {round}: {GC.GetTotalMemory(forceFullCollection: true) / 1024} KB");
    }
    return;
}
// "steps": 40 ms steps back to back for about 5 s. Healthy, and long enough that a stop of the whole process
// (SIGSTOP, as a hypervisor taking the CPU away would) lands inside one.
if (args is ["steps"])
{
    Console.WriteLine($"steps {Environment.ProcessId}");
    for (var i = 0; i < 120; i++)
    {
        await Task.Yield();
        var step = System.Diagnostics.Stopwatch.StartNew();
        while (step.ElapsedMilliseconds < 40)
            Thread.SpinWait(100);
    }
    Console.WriteLine("steps done");
    return;
}
var sw = System.Diagnostics.Stopwatch.StartNew();
for (var round = 0; round < 3; round++)
{
    for (var i = 0; i < 3000; i++) await Work.Nested(i);
    await Task.WhenAll(Enumerable.Range(0, 500).Select(i => Work.Nested(i)));
    await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => Work.Nested(i))));
    await foreach (var x in Work.Numbers(500)) { }
    for (var i = 0; i < 2000; i++) await Work.Value(i);
    for (var i = 0; i < 2000; i++) await Work.Pooled(i);
    await Work.Configured();
    await Work.Cancellation();
    await Work.ObservedFaults();
    await Work.Channels();
    await Work.Semaphores();
    await Parallel.ForEachAsync(Enumerable.Range(0, 200), async (i, ct) => await Work.Nested(i));
    var quick = Task.Run(() => 42).Result; // a quick wait: not 100 ms
    GC.KeepAlive(quick);
    GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
    await Task.Delay(600);
}
GC.Collect(); GC.WaitForPendingFinalizers();
await Task.Delay(1200);
Console.WriteLine($"healthy run finished in {sw.Elapsed.TotalSeconds:F1} s");

static class Work
{
    public static async Task<int> Nested(int i) { await Leaf(i); return i; }
    static async Task Leaf(int i) { if (i % 3 == 0) await Task.Yield(); else await Task.CompletedTask; }
    public static async IAsyncEnumerable<int> Numbers(int n) { for (var i = 0; i < n; i++) { if (i % 10 == 0) await Task.Yield(); yield return i; } }
    public static async ValueTask<int> Value(int i) { if (i % 2 == 0) await Task.Yield(); return i; }
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<int> Pooled(int i) { await Task.Yield(); return i; }
    public static async Task Configured() { for (var i = 0; i < 500; i++) await Task.Delay(0).ConfigureAwait(false); await Task.Yield(); }
    public static async Task Cancellation()
    {
        using var cts = new CancellationTokenSource(20);
        try { await Task.Delay(5000, cts.Token); } catch (OperationCanceledException) { }
        var never = new TaskCompletionSource();
        using var cts2 = new CancellationTokenSource(10);
        try { await never.Task.WaitAsync(cts2.Token); } catch (OperationCanceledException) { }
        _ = Task.Delay(Timeout.Infinite, cts2.Token); // canceled, not faulted
    }
    public static async Task ObservedFaults()
    {
        try { await Fails(); } catch (InvalidOperationException) { }
        var early = Fails(); await Task.Delay(50); try { await early; } catch (InvalidOperationException) { }
        var sync = ThrowsSync(); try { await sync; } catch (ArgumentException) { }
        try { await Task.WhenAll(Fails(), Task.Delay(5)); } catch (InvalidOperationException) { }
        try { await Task.Run(async () => { await Task.Yield(); throw new InvalidOperationException("x"); }); } catch (InvalidOperationException) { }
        var logged = Fails().ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        await logged;
        try { Fails().Wait(); } catch (AggregateException) { }
        var feed = new Feed();
        var next = feed.NextAsync();
        await ShutDown(feed);
        try { await next; } catch (ObjectDisposedException) { }
    }
    // Faults its subscriber's TaskCompletionSource before its own first await (Orleans' membership service does when
    // the host is disposed): the subscriber observes it, and ShutDown itself never faulted.
    static async Task ShutDown(Feed feed) { feed.Dispose(); await Task.Yield(); }
    static async Task Fails() { await Task.Yield(); throw new InvalidOperationException("observed"); }
    static async Task ThrowsSync() { if (DateTime.Now.Year > 0) throw new ArgumentException("sync"); await Task.Yield(); }
    public static async Task Channels()
    {
        var ch = Channel.CreateBounded<int>(10);
        var reader = Task.Run(async () => { var n = 0; await foreach (var x in ch.Reader.ReadAllAsync()) n += x; return n; });
        for (var i = 0; i < 1000; i++) await ch.Writer.WriteAsync(i);
        ch.Writer.Complete();
        await reader;
    }
    public static async Task Semaphores()
    {
        var gate = new SemaphoreSlim(2);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(async i => { await gate.WaitAsync(); try { await Task.Delay(1); } finally { gate.Release(); } }));
    }
}

sealed class Feed : IDisposable
{
    private readonly TaskCompletionSource<int> _next = new();
    public Task<int> NextAsync() => _next.Task;
    public void Dispose() => _next.TrySetException(new ObjectDisposedException(nameof(Feed)));
}
