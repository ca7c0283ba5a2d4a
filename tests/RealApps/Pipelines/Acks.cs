using System.Collections.Concurrent;

namespace Pipelines;

/// <summary>
/// Deliveries that wait for an acknowledgement each. One acknowledgement expires and is removed from the table
/// without being completed or cancelled: its delivery is abandoned, parked forever on a task nobody holds (seeded
/// bug). Memory is trimmed right after, and the program ends.
/// </summary>
internal static class Acks
{
    private static readonly ConcurrentDictionary<int, TaskCompletionSource> s_waiting = new();
    private static int s_delivered;

    public static async Task<int> RunAsync()
    {
        for (var id = 0; id < 3; id++)
            _ = DeliverAsync(id); // @pipe.abandon.created
        await Task.Delay(50);
        s_waiting.TryRemove(1, out _); // expired: dropped, never cancelled
        foreach (var ack in s_waiting.Values)
            ack.TrySetResult();
        await Task.Delay(50);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return s_delivered;
    }

    private static async Task DeliverAsync(int id)
    {
        var ack = s_waiting.GetOrAdd(id, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await ack.Task; // @pipe.abandon.parked
        Interlocked.Increment(ref s_delivered);
    }
}
