namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>What AsyncLens's own readers ask of the threads' steps as the buffers delivered so far tell them.</summary>
internal sealed partial class AsyncStepAssembler
{
    /// <summary>The OS ids of the threads whose events were seen.</summary>
    public void Threads(List<ulong> into)
    {
        lock (_threads)
            into.AddRange(_threads.Keys);
    }

    /// <summary>Each thread's step that began and has not ended, as far as the buffers delivered so far tell.</summary>
    public void OpenSteps(List<AsyncStep> into)
    {
        ThreadSteps[] threads;
        lock (_threads)
            threads = [.. _threads.Values];
        foreach (var thread in threads)
        {
            lock (thread)
            {
                if (thread.Open(out var step))
                    into.Add(step);
            }
        }
    }

    /// <summary>
    /// The stacks the last contexts of every thread ran with (each as complete as its events made it, with the context
    /// and when it resumed), resumed at or after <paramref name="since"/>, when the sink has them kept: a thread's buffer
    /// may be delivered after another's that came later, so a stack resumed on one thread may have been handed over
    /// before the step it tells about. <paramref name="found"/> true stops the search. On AsyncLens's own thread: it
    /// takes each thread's lock in turn.
    /// </summary>
    public void RecentStacks(long since, RecentStack found)
    {
        ThreadSteps[] threads;
        lock (_threads)
            threads = [.. _threads.Values];
        foreach (var thread in threads)
        {
            lock (thread)
            {
                if (thread.Recent(since, found))
                    return;
            }
        }
    }

    /// <summary>The state-machine contexts a thread created in [from, to] (its parks; <paramref name="outsideOnly"/>: with no
    /// context running), oldest first; false when its ring may have lost some.</summary>
    public bool ContextsCreated(ulong osThreadId, long from, long to, List<(ulong Context, long At)> into, bool outsideOnly = false)
    {
        ThreadSteps? thread;
        lock (_threads)
            _threads.TryGetValue(osThreadId, out thread);
        if (thread is null)
            return true;
        lock (thread)
            return thread.CreatedWithin(from, to, into, outsideOnly);
    }

    /// <summary>
    /// Gives the steps still waiting for their context's end the callers known so far (a context still running; the
    /// process's exit): on AsyncLens's own thread.
    /// </summary>
    public void GiveCallersNow()
    {
        ThreadSteps[] threads;
        lock (_threads)
            threads = [.. _threads.Values];
        foreach (var thread in threads)
        {
            lock (thread)
                thread.GiveCallers(_stacks);
        }
    }
}
