namespace AsyncLens;

/// <summary>
/// How one task ended, as <see cref="AsyncTasks.WhenAllSettled(IEnumerable{Task})"/> returns it: its status and, when it
/// failed, its exception (asyncio's <c>gather(return_exceptions=True)</c>, JavaScript's <c>Promise.allSettled</c>).
/// </summary>
public class TaskOutcome
{
    internal TaskOutcome(Task task)
    {
        Task = task;
        Status = task.Status;
        // Reading Exception marks the task observed: its fault is in the outcome, not lost.
        var all = task.IsFaulted ? task.Exception : null;
        Exceptions = all?.InnerExceptions ?? (IReadOnlyList<Exception>)[];
        Exception = task.IsCanceled ? new TaskCanceledException(task) : all is null ? null : all.InnerExceptions.Count == 1 ? all.InnerExceptions[0] : all;
    }

    /// <summary>The task this outcome is of.</summary>
    public Task Task { get; }

    /// <summary><see cref="TaskStatus.RanToCompletion"/>, <see cref="TaskStatus.Faulted"/> or <see cref="TaskStatus.Canceled"/>.</summary>
    public TaskStatus Status { get; }

    /// <summary>True when the task ran to completion.</summary>
    public bool Succeeded => Status == TaskStatus.RanToCompletion;

    /// <summary>
    /// Null when the task succeeded; else its exception: the one it faulted with, an <see cref="AggregateException"/>
    /// when it faulted with several (see <see cref="Exceptions"/>), a <see cref="TaskCanceledException"/> when it was canceled.
    /// </summary>
    public Exception? Exception { get; }

    /// <summary>Every exception the task faulted with, in the order they were recorded (empty unless it faulted).</summary>
    public IReadOnlyList<Exception> Exceptions { get; }

    /// <inheritdoc/>
    public override string ToString() => Exception is null ? Status.ToString() : $"{Status}: {Exception.GetType().Name}: {Exception.Message}";
}

/// <summary>How one <see cref="Task{TResult}"/> ended: a <see cref="TaskOutcome"/> with its result.</summary>
/// <typeparam name="T">The task's result type.</typeparam>
public sealed class TaskOutcome<T> : TaskOutcome
{
    internal TaskOutcome(Task<T> task)
        : base(task) => Value = task.IsCompletedSuccessfully ? task.Result : default;

    /// <summary>The task's result when it succeeded; <c>default</c> otherwise (check <see cref="TaskOutcome.Succeeded"/>).</summary>
    public T? Value { get; }

    /// <summary>The task's result.</summary>
    /// <exception cref="InvalidOperationException">The task did not succeed (the inner exception is why).</exception>
    public T Result => Succeeded ? Value! : throw new InvalidOperationException($"the task did not succeed: {this}", Exception);
}
