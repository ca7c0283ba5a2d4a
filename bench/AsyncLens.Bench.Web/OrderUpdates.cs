using System.Collections.Concurrent;

namespace AsyncLens.Bench.Web;

/// <summary>
/// Long polling: <c>GET /orders/{id}/updates?timeoutMs=N</c> waits for the order's next change (for now: its
/// creation by <c>POST /orders</c>, for an id not yet used), for at most N ms (then 204), or until the client goes
/// away. Each waiting request is a parked chain of async methods, as a service's open long polls, SignalR
/// fallbacks or slow backends hold them: what <c>bench/remote-read.sh --web</c> reads from outside.
/// </summary>
internal sealed class OrderUpdates
{
    private readonly ConcurrentDictionary<int, TaskCompletionSource<string>> _next = new();
    private int _waiting;

    /// <summary>Requests waiting right now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>The order's status after its next change, or null when none came within <paramref name="timeout"/>.</summary>
    public async Task<string?> NextStatusAsync(int id, TimeSpan timeout, CancellationToken cancel)
    {
        var next = _next.GetOrAdd(id, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Increment(ref _waiting);
        try
        {
            return await next.Task.WaitAsync(timeout, cancel);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    public void Publish(int id, string status)
    {
        if (_next.TryRemove(id, out var next))
            next.TrySetResult(status);
    }
}
