namespace Samples;

// The code the sample test projects of every DetectAsyncLeaks adapter leak from (linked into each): the lines a failure
// message names carry markers.
internal static class Waiter
{
    public static readonly List<Timer> Timers = [];

    public static readonly List<Task<int>> Replies = [];

    public static async Task<int> AwaitReplyAsync(Task<int> reply)
    {
        return await reply + 1; // @leaks.parked
    }

    // Throws before its first await (a failed check): the task is faulted when the test returns, whatever the machine's load.
    public static async Task ChargeAsync()
    {
        await Task.CompletedTask;
        throw new InvalidOperationException("card declined"); // @leaks.throw
    }

    public static void Tick(object? state)
    { // @leaks.tick
        _ = state;
    }

    // Started with the flow of ExecutionContext suppressed: it carries no test's scope, so no test fails for it; the
    // run-end check (AsyncLeakRun) reports it.
    public static void StartDetached(Task<int> reply)
    {
        // Held, as a client holds its pending requests: a chain nothing references is collected, and then it is no leak.
        Replies.Add(reply);
        using (ExecutionContext.SuppressFlow())
            _ = AwaitDetachedAsync(reply); // @leaks.detached.created
    }

    private static async Task<int> AwaitDetachedAsync(Task<int> reply)
    {
        await Task.Yield();
        return await reply + 2; // @leaks.detached
    }

    public static async Task PollAsync()
    {
        while (true)
            await Task.Delay(20);
    }
}
