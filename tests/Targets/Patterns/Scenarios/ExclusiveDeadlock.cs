namespace Patterns.Scenarios;

// The same conflict without a thread of its own: work on a scheduler that runs one task at a time (the exclusive side of
// a ConcurrentExclusiveSchedulerPair) blocks on an async method whose continuation is queued back to that scheduler.
// Bounded by a 3 s timeout.
public static class ExclusiveDeadlock
{
    public static async Task RunAsync()
    {
        var pair = new ConcurrentExclusiveSchedulerPair();
        var result = await Task.Factory.StartNew(Refresh, CancellationToken.None, TaskCreationOptions.None, pair.ExclusiveScheduler);
        Console.WriteLine($"result: {result}");
    }

    private static string Refresh()
    {
        var load = LoadAsync();
        return load.Wait(TimeSpan.FromSeconds(3)) ? load.Result : "gave up"; // @exclusive.wait
    }

    private static async Task<string> LoadAsync()
    {
        await Task.Delay(50); // @exclusive.await
        return "loaded";
    }
}
