namespace Jobs;

/// <summary>
/// Fills the thread pool (its maximum set to its minimum): every worker blocked with <c>.Result</c> on a task parked
/// until the release, and one more work item queued behind them. The console's <c>pool</c> and <c>threads</c> tests.
/// </summary>
internal static class Starve
{
    private static (int Workers, int Io)? s_max;

    /// <summary>Returns once every worker is in its work item; the count of workers.</summary>
    public static int Start(Task release)
    {
        ThreadPool.GetMaxThreads(out var maxWorkers, out var maxIo);
        s_max = (maxWorkers, maxIo);
        ThreadPool.GetMinThreads(out var workers, out var io);
        var max = Math.Max(workers, Environment.ProcessorCount);
        ThreadPool.SetMaxThreads(max, Math.Max(io, max));
        var entered = new CountdownEvent(max);
        for (var i = 0; i < max; i++)
            ThreadPool.QueueUserWorkItem(_ => Block(release, entered)); // @jobs.starve.queue
        entered.Wait();
        ThreadPool.QueueUserWorkItem(_ => Console.WriteLine("starve: the queued work item ran"));
        return max;
    }

    /// <summary>Lets the pool grow again: the blocked tasks' continuations are queued to it, behind the work item.</summary>
    public static void Stop()
    {
        if (s_max is var (workers, io))
            ThreadPool.SetMaxThreads(workers, io);
    }

    private static void Block(Task release, CountdownEvent entered)
    {
        var count = CountAsync(release);
        entered.Signal();
        Console.WriteLine($"starve: counted {count.Result}"); // @jobs.starve.block
    }

    private static async Task<int> CountAsync(Task release)
    {
        await release; // @jobs.starve.count
        return 1;
    }
}
