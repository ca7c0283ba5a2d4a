namespace PatternSamples;

// asyncio: calling run_until_complete() from inside the running loop (the event-loop conflict). .NET: blocking on a task
// (.Result, .Wait()) on a thread whose SynchronizationContext runs one thing at a time: the task's continuation is
// queued to the very thread that waits for it. A deadlock; here bounded by a 2 s timeout so the sample ends.
public static class EventLoop
{
    public static async Task RunAsync(bool fixedForm)
    {
        var loop = new SingleThreadLoop();
        var result = await loop.RunAsync(async () =>
        {
            if (fixedForm)
                return await LoadAsync(); // await all the way: the continuation runs when the loop is free
            var load = LoadAsync();
            return load.Wait(TimeSpan.FromSeconds(2)) ? load.Result : "deadlocked (gave up after 2 s)"; // blocking-wait
        });
        Console.WriteLine($"result: {result}");
    }

    private static async Task<string> LoadAsync()
    {
        await Task.Delay(50); // resumes on the loop's thread: the one blocked in Wait()
        return "loaded";
    }

    // A UI thread in miniature: one thread, one queue, a SynchronizationContext that posts to it.
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
                    try
                    {
                        done.SetResult(await body());
                    }
                    catch (Exception e)
                    {
                        done.SetException(e);
                    }
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
