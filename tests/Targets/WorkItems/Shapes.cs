namespace WorkItems;

public static class Shapes
{
    public const int SeededMs = 300;
}

/// <summary>
/// A scheduler of its own, as an actor framework's (Akka.NET runs a <c>ReceiveAsync</c> handler so): each task runs inline
/// in a thread-pool work item, through <c>TryExecuteTask</c>.
/// </summary>
public static class OwnScheduler
{
    private static readonly PoolScheduler s_scheduler = new();

    public static Task RunAsync(int ms) =>
        Task.Factory.StartNew(() => HandleAsync(ms), CancellationToken.None, TaskCreationOptions.None, s_scheduler).Unwrap(); // @scheduler.created

    private static async Task HandleAsync(int ms)
    { // @scheduler.started
        Thread.Sleep(ms); // @scheduler.location
        await Task.Delay(10); // @scheduler.stopped
    }

    private sealed class PoolScheduler : TaskScheduler
    {
        protected override void QueueTask(Task task) => ThreadPool.UnsafeQueueUserWorkItem(t => TryExecuteTask(t), task, preferLocal: false);

        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

        protected override IEnumerable<Task> GetScheduledTasks() => [];
    }
}

/// <summary>The exclusive scheduler of a <c>ConcurrentExclusiveSchedulerPair</c>: its tasks run inside a processing task of its own.</summary>
public static class Exclusive
{
    private static readonly ConcurrentExclusiveSchedulerPair s_pair = new();

    public static Task RunAsync(int ms) =>
        Task.Factory.StartNew(() => HandleAsync(ms), CancellationToken.None, TaskCreationOptions.None, s_pair.ExclusiveScheduler).Unwrap(); // @exclusive.created

    private static async Task HandleAsync(int ms)
    { // @exclusive.started
        Thread.Sleep(ms); // @exclusive.location
        await Task.Delay(10); // @exclusive.stopped
    }
}

/// <summary><c>Task.Factory.StartNew(async () => ...)</c> on the default scheduler: the async lambda is the delegate.</summary>
public static class StartNew
{
    public static Task RunAsync(int ms) =>
        Task.Factory.StartNew(async () => // @startnew.created
        { // @startnew.started
            Thread.Sleep(ms); // @startnew.location
            await Task.Delay(10); // @startnew.stopped
        }).Unwrap();
}

/// <summary><c>Task.Run(async () => ...)</c>.</summary>
public static class TaskRun
{
    public static Task RunAsync(int ms) =>
        Task.Run(async () => // @taskrun.created
        { // @taskrun.started
            Thread.Sleep(ms); // @taskrun.location
            await Task.Delay(10); // @taskrun.stopped
        });
}

/// <summary>
/// <c>Task.Run(() => { var handled = HandleAsync(go.Task); go.SetResult(); return handled; })</c>: the method parks at its
/// first await, and the delegate resumes it at once (its continuation runs inline in <c>SetResult</c>), so it has
/// completed when the delegate's run ends, as a method awaiting a signal its caller then gives.
/// </summary>
public static class Completed
{
    public static Task RunAsync(int ms) =>
        Task.Run(() =>
        {
            var go = new TaskCompletionSource();
            var handled = HandleAsync(ms, go.Task); // @completed.created
            go.SetResult();
            return handled;
        });

    private static async Task HandleAsync(int ms, Task go)
    { // @completed.started
        Thread.Sleep(ms); // @completed.location
        await go; // @completed.stopped
    }
}

/// <summary><c>ThreadPool.QueueUserWorkItem(_ => _ = HandleAsync())</c>: a work item that is no task.</summary>
public static class WorkItem
{
    public static Task RunAsync(int ms)
    {
        var done = new TaskCompletionSource();
        ThreadPool.QueueUserWorkItem(_ => _ = HandleAsync(ms, done)); // @workitem.created
        return done.Task;
    }

    private static async Task HandleAsync(int ms, TaskCompletionSource done)
    { // @workitem.started
        Thread.Sleep(ms); // @workitem.location
        await Task.Delay(10); // @workitem.stopped
        done.SetResult();
    }
}

/// <summary>A <c>System.Threading.Timer</c> callback doing <c>_ = TickAsync()</c>.</summary>
public static class Ticks
{
    public static async Task RunAsync(int ms)
    {
        var done = new TaskCompletionSource();
        using var timer = new Timer(_ => _ = TickAsync(ms, done), null, 10, Timeout.Infinite); // @timer.created
        await done.Task;
    }

    private static async Task TickAsync(int ms, TaskCompletionSource done)
    { // @timer.started
        Thread.Sleep(ms); // @timer.location
        await Task.Delay(10); // @timer.stopped
        done.SetResult();
    }
}

/// <summary>A <c>System.Timers.Timer</c>'s <c>Elapsed</c> handler doing <c>_ = OnElapsedAsync()</c>.</summary>
public static class Elapsed
{
    public static async Task RunAsync(int ms)
    {
        var done = new TaskCompletionSource();
        using var timer = new System.Timers.Timer(10) { AutoReset = false };
        timer.Elapsed += (_, _) => _ = OnElapsedAsync(ms, done); // @elapsed.created
        timer.Start();
        await done.Task;
    }

    private static async Task OnElapsedAsync(int ms, TaskCompletionSource done)
    { // @elapsed.started
        Thread.Sleep(ms); // @elapsed.location
        await Task.Delay(10); // @elapsed.stopped
        done.SetResult();
    }
}

/// <summary><c>new Thread(() => RunAsync().GetAwaiter().GetResult())</c>.</summary>
public static class OwnThread
{
    public static Task RunAsync(int ms)
    {
        var done = new TaskCompletionSource();
        new Thread(() =>
        {
            WorkAsync(ms).GetAwaiter().GetResult(); // @thread.created
            done.SetResult();
        }).Start();
        return done.Task;
    }

    private static async Task WorkAsync(int ms)
    { // @thread.started
        Thread.Sleep(ms); // @thread.location
        await Task.Delay(10); // @thread.stopped
    }
}

/// <summary>
/// Healthy: <c>Task.Run(() => { Thread.Sleep(...); return SaveAsync(); })</c>, the delegate's own blocking work, then an
/// async method whose first step takes no time but calls a method that could block (it takes a lock).
/// </summary>
public static class DelegateWork
{
    private static readonly object s_gate = new();
    private static int s_saved;

    public static Task RunAsync(int ms) =>
        Task.Run(() =>
        {
            Thread.Sleep(ms);
            return SaveAsync(ms);
        });

    private static async Task SaveAsync(int ms)
    {
        Append(ms);
        await Task.Delay(10);
    }

    private static void Append(int ms)
    {
        lock (s_gate)
            s_saved += ms;
    }
}

/// <summary>
/// Healthy: a <c>ThreadPool.QueueUserWorkItem</c> callback that blocks itself, then calls an async method whose first step
/// takes no time.
/// </summary>
public static class WorkItemWork
{
    public static Task RunAsync(int ms)
    {
        var done = new TaskCompletionSource();
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Thread.Sleep(ms);
            _ = SaveAsync(done);
        });
        return done.Task;
    }

    private static async Task SaveAsync(TaskCompletionSource done)
    {
        await Task.Delay(10);
        done.SetResult();
    }
}

/// <summary>
/// Healthy: a thread of its own consuming a queue, whose first item comes after <c>ms</c>; each item is handled by an async
/// method whose first step takes no time, waited for on the thread.
/// </summary>
public static class Consumer
{
    public static async Task RunAsync(int ms)
    {
        using var queue = new System.Collections.Concurrent.BlockingCollection<int>();
        var done = new TaskCompletionSource();
        new Thread(() =>
        {
            foreach (var item in queue.GetConsumingEnumerable())
                HandleAsync(item).GetAwaiter().GetResult();
            done.SetResult();
        }).Start();
        await Task.Delay(ms);
        queue.Add(1);
        queue.CompleteAdding();
        await done.Task;
    }

    private static async Task HandleAsync(int item)
    {
        await Task.Delay(10 + item);
    }
}
