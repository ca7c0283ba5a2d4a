namespace AsyncLens;

/// <summary>
/// One piece of pending async work in a snapshot (<see cref="AsyncDebug.GetPendingTasks"/>): an async
/// method, a delegate task (Task.Run) or a combinator (Task.WhenAll). docs/async-stacks.md describes the fields.
/// </summary>
public sealed class PendingTask
{
    /// <summary><see cref="Task.Id"/>; negative for work that is not a task (a pooled ValueTask method's box).</summary>
    public long Id { get; init; }

    /// <summary><c>async-method</c>, <c>pooled-async-method</c>, <c>async-iterator</c>, <c>delegate-task</c> or <c>combinator</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>The method as written (<c>Shop.FetchUser(int)</c>), or the API (<c>Task.WhenAll of 3</c>, <c>Task.Run(...)</c>).</summary>
    public required string Method { get; init; }

    /// <summary><c>parked</c> (at an await), <c>running</c>, <c>paused</c> (an iterator at yield return), <c>queued</c> or <c>pending</c> (a combinator).</summary>
    public required string State { get; init; }

    /// <summary>For a parked async method: which await (0 is the first in the method).</summary>
    public int? AwaitIndex { get; init; }

    /// <summary>The line of the await it is parked on.</summary>
    public SourceLine? ParkedAt { get; init; }

    /// <summary>What it waits for: another async method, Task.Delay, a TaskCompletionSource, a semaphore, socket I/O, ...</summary>
    public IReadOnlyList<AwaitedWork> Awaiting { get; init; } = [];

    /// <summary>The ids of what awaits it (usually one: the caller; a combinator for a Task.WhenAll member).</summary>
    public IReadOnlyList<long> AwaitedBy { get; init; } = [];

    /// <summary>True when nothing async awaits it: where an async stack starts.</summary>
    public bool IsRoot { get; init; }

    /// <summary>True when a thread is blocked waiting for it (<c>.Result</c>, <c>.Wait()</c>).</summary>
    public bool BlockedThreadWaits { get; init; }

    /// <summary>Where it was created, when debug mode recorded it.</summary>
    public SourceLine? CreatedAt { get; init; }

    /// <summary>How long ago it was created, when debug mode recorded it.</summary>
    public TimeSpan? Age { get; init; }
}

/// <summary>Something a pending task waits for.</summary>
/// <param name="Id">The task id (negative for what is not a task).</param>
/// <param name="Kind"><c>async-method</c>, <c>delegate-task</c>, <c>combinator</c> or <c>awaited</c> (Task.Delay, a TaskCompletionSource, a socket...).</param>
/// <param name="Description">What it is, as <see cref="PendingTask.Method"/> would name it.</param>
public sealed record AwaitedWork(long Id, string Kind, string Description);

/// <summary>The shapes of <see cref="AsyncDebug.WriteTasks"/>.</summary>
public enum TaskDumpFormat
{
    /// <summary>Roots first; under each node, what it awaits (like Python 3.14's <c>asyncio pstree</c>).</summary>
    Tree,

    /// <summary>One async stack per leaf, root to leaf; identical stacks printed once with a count.</summary>
    Stacks,

    /// <summary>Every pending task and the coalesced stacks, as one JSON object.</summary>
    Json,
}
