using System.Runtime.CompilerServices;

namespace AsyncLens;

/// <summary>Awaiting a task without losing its exceptions, and fire-and-forget whose faults are never lost.</summary>
public static class AsyncTaskExtensions
{
    /// <summary>
    /// A task that ends as <paramref name="task"/> does, except that when it faults, awaiting it throws an
    /// <see cref="AggregateException"/> holding every exception (<c>await Task.WhenAll(a, b).WithAllExceptions()</c>),
    /// where awaiting <paramref name="task"/> itself throws only the first.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> is null.</exception>
    public static Task WithAllExceptions(this Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.IsCompletedSuccessfully)
            return task;
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        task.ContinueWith(static (t, state) =>
        {
            var s = (TaskCompletionSource)state!;
            if (t.IsFaulted)
                s.SetException(t.Exception!);
            else if (t.IsCanceled)
                s.SetCanceled();
            else
                s.SetResult();
        }, source, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return source.Task;
    }

    /// <inheritdoc cref="WithAllExceptions(Task)"/>
    public static Task<T> WithAllExceptions<T>(this Task<T> task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.IsCompletedSuccessfully)
            return task;
        var source = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        task.ContinueWith(static (t, state) =>
        {
            var s = (TaskCompletionSource<T>)state!;
            if (t.IsFaulted)
                s.SetException(t.Exception!);
            else if (t.IsCanceled)
                s.SetCanceled();
            else
                s.SetResult(t.Result);
        }, source, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return source.Task;
    }

    /// <summary>
    /// Lets <paramref name="task"/> run on without waiting for it, without losing its fault: if it faults, an
    /// <c>unobserved-exception</c> report naming this line is written at once (to debug mode's output when it is on,
    /// else to standard error), with or without debug mode. A cancellation is not a fault. Costs one continuation.
    /// </summary>
    /// <param name="task">The task to forget.</param>
    /// <param name="callerFile">Filled in by the compiler: the file that called Forget.</param>
    /// <param name="callerLine">Filled in by the compiler: the line that called Forget.</param>
    /// <param name="callerMember">Filled in by the compiler: the method that called Forget.</param>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> is null.</exception>
    public static void Forget(this Task task, [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0, [CallerMemberName] string callerMember = "")
    {
        ArgumentNullException.ThrowIfNull(task);
        Forgotten.Watch(task, new ForgetSite(callerFile, callerLine, callerMember, null));
    }

    /// <summary>
    /// Lets <paramref name="task"/> run on without waiting for it: if it faults, <paramref name="onError"/> is called
    /// once with its exception (an <see cref="AggregateException"/> when it faulted with several). A cancellation is not
    /// a fault. If <paramref name="onError"/> throws, that is reported as <c>unobserved-exception</c> naming this line.
    /// </summary>
    /// <param name="task">The task to forget.</param>
    /// <param name="onError">Called with the task's fault, on the thread that completed it.</param>
    /// <param name="callerFile">Filled in by the compiler.</param>
    /// <param name="callerLine">Filled in by the compiler.</param>
    /// <param name="callerMember">Filled in by the compiler.</param>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> or <paramref name="onError"/> is null.</exception>
    public static void Forget(this Task task, Action<Exception> onError, [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0, [CallerMemberName] string callerMember = "")
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(onError);
        Forgotten.Watch(task, new ForgetSite(callerFile, callerLine, callerMember, onError));
    }

    /// <inheritdoc cref="Forget(Task, string, int, string)"/>
    public static void Forget(this ValueTask task, [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0, [CallerMemberName] string callerMember = "")
    {
        if (task.IsCompletedSuccessfully)
        {
            task.GetAwaiter().GetResult(); // releases a pooled source
            return;
        }
        Forgotten.Watch(task.AsTask(), new ForgetSite(callerFile, callerLine, callerMember, null));
    }

    /// <inheritdoc cref="Forget(Task, Action{Exception}, string, int, string)"/>
    public static void Forget(this ValueTask task, Action<Exception> onError, [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0, [CallerMemberName] string callerMember = "")
    {
        ArgumentNullException.ThrowIfNull(onError);
        if (task.IsCompletedSuccessfully)
        {
            task.GetAwaiter().GetResult();
            return;
        }
        Forgotten.Watch(task.AsTask(), new ForgetSite(callerFile, callerLine, callerMember, onError));
    }
}
