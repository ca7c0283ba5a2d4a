namespace AsyncLens;

/// <summary>Waiting for several tasks without losing any of their outcomes.</summary>
public static class AsyncTasks
{
    /// <summary>
    /// Waits for every task to end and returns one <see cref="TaskOutcome"/> per task, in the order given. Never throws
    /// for a task's failure: each fault and cancellation is in its outcome (and so observed), none is lost, unlike
    /// <c>await Task.WhenAll(...)</c>, which throws only the first.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="tasks"/> or one of its tasks is null.</exception>
    public static Task<TaskOutcome[]> WhenAllSettled(params Task[] tasks) => WhenAllSettled((IEnumerable<Task>)tasks);

    /// <inheritdoc cref="WhenAllSettled(Task[])"/>
    public static async Task<TaskOutcome[]> WhenAllSettled(IEnumerable<Task> tasks)
    {
        var all = Snapshot(tasks);
        await Settle(all).ConfigureAwait(false);
        return Array.ConvertAll(all, static t => new TaskOutcome(t));
    }

    /// <summary>As <see cref="WhenAllSettled(Task[])"/>, each outcome with its task's result.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="tasks"/> or one of its tasks is null.</exception>
    public static Task<TaskOutcome<T>[]> WhenAllSettled<T>(params Task<T>[] tasks) => WhenAllSettled((IEnumerable<Task<T>>)tasks);

    /// <inheritdoc cref="WhenAllSettled{T}(Task{T}[])"/>
    public static async Task<TaskOutcome<T>[]> WhenAllSettled<T>(IEnumerable<Task<T>> tasks)
    {
        var all = Snapshot(tasks);
        await Settle(all).ConfigureAwait(false);
        return Array.ConvertAll(all, static t => new TaskOutcome<T>(t));
    }

    private static TTask[] Snapshot<TTask>(IEnumerable<TTask> tasks)
        where TTask : Task
    {
        ArgumentNullException.ThrowIfNull(tasks);
        var all = tasks.ToArray();
        foreach (var t in all)
        {
            if (t is null)
                throw new ArgumentNullException(nameof(tasks), "one of the tasks is null");
        }
        return all;
    }

    // One task at a time rather than Task.WhenAll: a WhenAll promise that faulted, awaited without throwing, would be
    // finalized unobserved. Waiting for each in turn ends when the last one does, all the same.
    private static async Task Settle(Task[] tasks)
    {
        foreach (var t in tasks)
        {
            if (!t.IsCompleted)
                await t.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
