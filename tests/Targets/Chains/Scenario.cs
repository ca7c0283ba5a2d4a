using System.Runtime.CompilerServices;

namespace Chains;

public static class Scenario
{
    private static readonly TaskCompletionSource s_gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly SemaphoreSlim s_semaphore = new(0);
    private static readonly CancellationTokenSource s_stop = new();

    public static Task Gate => s_gate.Task;

    public static CancellationToken Stop => s_stop.Token;

    /// <summary>Starts everything; returns a task that completes once <see cref="Release"/> let it all finish.</summary>
    public static Task Start()
    {
        var all = new List<Task> // @chains.start
        {
            Server.ServeAsync(),
            Requests.FloodAsync(1000),
            Feeds.ConsumeAsync(),
            Pooled.CallerAsync(),
            Shapes.LambdaAndLocalAsync(),
            Outer.Inner.LoadAsync<Guid>(),
            Shapes.ConfiguredAsync(),
            Shapes.ValueTaskAsync().AsTask(),
            Recursive.DescendAsync(3),
            Network.AcceptAsync(),
            Task.Run(async () =>
            { // @chains.run-lambda.body
                Interlocked.Increment(ref s_started);
                await Gate; // @chains.run-lambda
            }),
            Task.Run(() =>
            { // @chains.run-blocking (a delegate is shown at its first line)
                Interlocked.Increment(ref s_started);
                Gate.Wait();
            }),
        };
        Cycle.Start();
        return Task.WhenAll(all);
    }

    private static int s_started;

    /// <summary>Waits until everything has reached the await it parks on (the Task.Run delegates need a pool thread).</summary>
    public static async Task ParkedAsync()
    {
        while (Volatile.Read(ref s_started) < 2)
            await Task.Delay(10);
        await Task.Delay(300);
    }

    public static void Release()
    {
        s_stop.Cancel();
        s_semaphore.Release(10);
        s_gate.SetResult();
    }

    public static Task WaitSemaphoreAsync() => s_semaphore.WaitAsync();
}

public static class Server
{
    public static async Task ServeAsync()
    {
        await Task.WhenAll(HandleAsync(1), HandleAsync(2), HandleAsync(3)); // @chains.serve
    }

    private static async Task HandleAsync(int id)
    {
        if (id == 3)
            await Scenario.WaitSemaphoreAsync(); // @chains.handle-semaphore
        else
            await Store.FetchAsync(id); // @chains.handle-fetch
    }
}

public static class Store
{
    public static async Task<string> FetchAsync(int id)
    {
        await Scenario.Gate; // @chains.fetch
        return id.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

public static class Requests
{
    public static async Task FloodAsync(int count)
    {
        var requests = new Task[count];
        for (var i = 0; i < count; i++)
            requests[i] = ProcessAsync(i);
        try
        {
            await Task.WhenAll(requests); // @chains.flood
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task ProcessAsync(int id)
    {
        await QueryAsync(id); // @chains.process
    }

    private static async Task QueryAsync(int id)
    {
        await Task.Delay(Timeout.Infinite, Scenario.Stop); // @chains.query
        GC.KeepAlive(id);
    }
}

public static class Feeds
{
    public static async Task ConsumeAsync()
    {
        await foreach (var item in ReadAsync()) // @chains.consume
            GC.KeepAlive(item);
    }

    private static async IAsyncEnumerable<int> ReadAsync()
    {
        yield return 1;
        await Scenario.Gate; // @chains.feed
        yield return 2;
    }
}

public static class Pooled
{
    public static async Task CallerAsync()
    {
        await WaitAsync(); // @chains.pooled-caller
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask WaitAsync()
    {
        await Scenario.Gate; // @chains.pooled
    }
}

public static class Shapes
{
    public static async Task LambdaAndLocalAsync()
    {
        Func<int, Task> lambda = async n => await Scenario.Gate; // @chains.lambda
        await Task.WhenAll(lambda(1), LocalAsync("x")); // @chains.shapes

        static async Task LocalAsync(string name)
        {
            await Scenario.Gate; // @chains.local
            GC.KeepAlive(name);
        }
    }

    public static async Task ConfiguredAsync()
    {
        await Scenario.Gate.ConfigureAwait(false); // @chains.configured
    }

    public static async ValueTask<int> ValueTaskAsync()
    {
        await Scenario.Gate; // @chains.valuetask
        return 1;
    }
}

public static class Outer
{
    public static class Inner
    {
        public static async Task<T?> LoadAsync<T>()
        {
            await Scenario.Gate; // @chains.generic
            return default;
        }
    }
}

public static class Recursive
{
    public static async Task DescendAsync(int depth)
    {
        if (depth == 0)
            await Scenario.Gate; // @chains.recursion-bottom
        else
            await DescendAsync(depth - 1); // @chains.recursion
    }
}

public static class Network
{
    /// <summary>Waits for a connection that only comes at the end: socket I/O, parked in the runtime.</summary>
    public static async Task AcceptAsync()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptSocketAsync(Scenario.Stop);
        try
        {
            using var socket = await accept; // @chains.accept
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>Two methods each awaiting the other: a deadlock the dump must survive.</summary>
public static class Cycle
{
    public static void Start()
    {
        var start = new TaskCompletionSource();
        Task? first = null;
        Task? second = null;
        first = WaitForAsync(start.Task, () => second!);
        second = WaitForAsync(start.Task, () => first);
        start.SetResult();
    }

    private static async Task WaitForAsync(Task start, Func<Task> other)
    {
        await start;
        await other(); // @chains.cycle
    }
}

/// <summary>An async method that blocks its thread in the middle of a step (for asynclens threads).</summary>
public static class Blocking
{
    private static readonly ManualResetEventSlim s_release = new();

    public static ManualResetEventSlim Started { get; } = new();

    public static async Task ServeAsync()
    {
        await HoldThreadAsync(); // @chains.hold-caller
    }

    public static void Release() => s_release.Set();

    private static async Task HoldThreadAsync()
    {
        await Task.Yield();
        Started.Set();
        s_release.Wait(); // @chains.hold-thread
    }
}
