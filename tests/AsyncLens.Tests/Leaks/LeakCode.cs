namespace AsyncLens.Tests.Leaks;

// Code the scope tests leak from: each line a failure message must name carries a marker.
internal static class LeakCode
{
    public static async Task WaitForSignalAsync(Task signal)
    {
        await signal; // @leak.parked
    }

    public static async Task ServeAsync(Task signal)
    {
        await WaitForSignalAsync(signal); // @leak.serve
    }

    public static void StartServing(Task signal)
    {
        _ = ServeAsync(signal); // @leak.serve.created
    }

    public static async Task ChargeAsync()
    {
        await Task.Yield();
        throw new InvalidOperationException("card declined"); // @leak.throw
    }

    public static void StartCharging()
    {
        _ = ChargeAsync(); // @leak.charge.created
    }

    public static void Tick(object? state)
    { // @leak.tick
        _ = state;
    }

    public static async Task PollAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
            await Task.Delay(5, CancellationToken.None); // @leak.poll
    }
}
