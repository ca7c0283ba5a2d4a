namespace AsyncLens.Tracking;

/// <summary>
/// When a thread starts running work of the app's that no TPL event brackets: a thread-pool work item
/// (<c>ThreadPool.QueueUserWorkItem</c>), a timer's callback (<c>System.Threading.Timer</c>, <c>System.Timers.Timer</c>), a
/// thread of the app's own (<c>new Thread(...)</c>). Each runs in the execution context captured where it was queued, made
/// or started, and the runtime restores that context on the thread before the callback runs and takes it off after: a
/// value debug mode puts in the context it starts in (with a startup hook, Main's, inherited by all the app's work) is
/// told of both, on that thread, through the public <see cref="AsyncLocal{T}"/> change notification. Work that does not
/// flow the context (<c>UnsafeQueueUserWorkItem</c>, under <c>ExecutionContext.SuppressFlow</c>, or queued before debug
/// mode started) is not seen.
/// </summary>
internal static class ContextEntries
{
    private static readonly object s_marker = new();
    private static readonly AsyncLocal<object?> s_local = new(OnChanged);
    private static volatile Handlers? s_handlers;

    /// <summary>Marks the calling thread's execution context, and calls the handlers from now on (on the entering thread, which reads the clock only if it keeps the entry).</summary>
    public static void Start(Action entered, Action left)
    {
        s_handlers = new Handlers(entered, left);
        s_local.Value = s_marker;
    }

    /// <summary>No more calls. The mark stays in the contexts that hold it: debug mode may start again.</summary>
    public static void Stop() => s_handlers = null;

    // Called by the runtime while it switches contexts: an exception here would end the process, none may leave.
    private static void OnChanged(AsyncLocalValueChangedArgs<object?> change)
    {
        if (!change.ThreadContextChanged || s_handlers is not { } handlers || ThreadTracker.IsEngineThread)
            return;
        try
        {
            if (change.PreviousValue is null && change.CurrentValue is not null)
                handlers.Entered();
            else if (change.PreviousValue is not null && change.CurrentValue is null)
                handlers.Left();
        }
        catch (Exception)
        {
            // Debug mode's own failure: the app's work goes on unjudged.
        }
    }

    private sealed record Handlers(Action Entered, Action Left);
}
