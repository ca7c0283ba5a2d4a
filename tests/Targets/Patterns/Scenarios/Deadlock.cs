namespace Patterns.Scenarios;

// The event-loop conflict in .NET: on a thread whose SynchronizationContext runs one thing at a time (a UI thread in
// miniature), a handler blocks on a task whose continuation is queued to that very thread. Bounded by a 3 s timeout.
public static class Deadlock
{
    public static async Task RunAsync()
    {
        var loop = new SingleThreadLoop();
        var result = await loop.RunAsync(OnLoad);
        Console.WriteLine($"result: {result}");
    }

    private static Task<string> OnLoad()
    {
        var load = LoadAsync();
        var done = load.Wait(TimeSpan.FromSeconds(3)); // @deadlock.wait
        return Task.FromResult(done ? load.Result : "gave up");
    }

    private static async Task<string> LoadAsync()
    {
        await Task.Delay(50); // @deadlock.await
        return "loaded";
    }

    private sealed class SingleThreadLoop : SynchronizationContext
    {
        private readonly System.Collections.Concurrent.BlockingCollection<(SendOrPostCallback, object?)> _queue = [];

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

        public Task<T> RunAsync<T>(Func<Task<T>> body)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                SetSynchronizationContext(this);
                Post(async _ =>
                {
                    done.SetResult(await body());
                    _queue.CompleteAdding();
                }, null);
                foreach (var (callback, state) in _queue.GetConsumingEnumerable())
                    callback(state);
            }) { Name = "loop" };
            thread.Start();
            return done.Task;
        }
    }
}
