namespace AsyncLens;

/// <summary>
/// Cleanup that must run even though the work was canceled: <c>asyncio.shield</c>, Kotlin's
/// <c>withContext(NonCancellable)</c>, for <c>finally</c> blocks and <c>DisposeAsync</c>.
/// </summary>
public static class AsyncCleanup
{
    /// <summary>
    /// Runs <paramref name="cleanup"/> with a token of its own, canceled only when <paramref name="timeout"/> passes, not
    /// the token that canceled the work (awaiting with that one in a <c>finally</c> throws at once, and the cleanup
    /// never runs).
    /// </summary>
    /// <param name="cleanup">The cleanup; it is given the token bounded by <paramref name="timeout"/>.</param>
    /// <param name="timeout">How long the cleanup may take, at most (<see cref="Timeout.InfiniteTimeSpan"/>: no bound).</param>
    /// <exception cref="ArgumentNullException"><paramref name="cleanup"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (and not infinite) or zero.</exception>
    /// <exception cref="TimeoutException">The cleanup did not end within <paramref name="timeout"/> (one that ignores
    /// its token is left running, its outcome observed), or ended canceled by its own token.</exception>
    public static async Task RunAsync(Func<CancellationToken, Task> cleanup, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(cleanup);
        if (timeout != Timeout.InfiniteTimeSpan && timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the cleanup needs a positive time to run");
        using var cts = new CancellationTokenSource(timeout);
        var work = cleanup(cts.Token) ?? throw new InvalidOperationException("the cleanup returned no task");
        try
        {
            await work.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Still running after its time: it is told (its token may not have fired yet: two timers), goes on alone,
            // and its fault, if it comes, is not left unobserved.
            await cts.CancelAsync().ConfigureAwait(false);
            _ = work.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw new TimeoutException($"the cleanup did not end within {timeout.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException e) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"the cleanup was canceled after its {timeout.TotalSeconds:0.###} s", e);
        }
    }
}
