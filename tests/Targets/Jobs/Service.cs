namespace Jobs;

internal static class Service
{
    public static int Completed;

    public static async Task ServeAsync(Task job, Task wait)
    {
        await Task.WhenAll(job, wait); // @jobs.serve
    }

    public static async Task RunJobAsync(CancellationToken cancellation)
    {
        try
        {
            await PollAsync(cancellation); // @jobs.run
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("job: cancelled, stopping");
        }
    }

    private static async Task PollAsync(CancellationToken cancellation)
    {
        while (true)
            await Task.Delay(Timeout.Infinite, cancellation); // @jobs.poll
    }

    public static async Task WaitAsync(Task release)
    {
        await WaitForReleaseAsync(release); // @jobs.wait
    }

    private static async Task WaitForReleaseAsync(Task release)
    {
        await release; // @jobs.release
    }

    /// <summary>N requests parked until released, each a chain of two methods; each counted when answered.</summary>
    public static async Task FloodAsync(int count, Task release)
    {
        var requests = new Task[count];
        for (var i = 0; i < count; i++)
            requests[i] = HandleAsync(i, release);
        await Task.WhenAll(requests); // @jobs.flood
    }

    private static async Task HandleAsync(int id, Task release)
    {
        await LoadAsync(id, release); // @jobs.handle
        Interlocked.Increment(ref Completed);
    }

    private static async Task<int> LoadAsync(int id, Task release)
    {
        await release; // @jobs.load
        return id;
    }

    /// <summary>20 steps of 10 ms of work each (after a yield), then parked until the release: the busiest task.</summary>
    public static async Task CrunchAsync(Task release)
    {
        for (var i = 0; i < 20; i++)
        {
            await Task.Yield(); // @jobs.crunch.yield
            var until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 100;
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
            }
        }
        Crunched = true;
        await release; // @jobs.crunch.park
    }

    public static volatile bool Crunched;

    /// <summary>A bill whose charge fails when the card is declined: the charge ends faulted, the bill catches it.</summary>
    public static async Task BillAsync(Task declined)
    {
        try
        {
            await ChargeAsync(declined); // @jobs.bill
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine($"bill: {ex.Message}");
        }
    }

    private static async Task ChargeAsync(Task declined)
    {
        await declined; // @jobs.charge
    }
}
