namespace AsyncLens.Profiling;

/// <summary>
/// One call the profile follows: an async method's box (from its first await that waits), a delegate task, or a
/// promise (<c>Task.WhenAll</c>, ...) that only links the calls it is made of to the method that awaits it. Links up
/// (awaiter, promise joined, creator) are dropped once it is recorded: its <see cref="Anchor"/> stands for them.
/// Mutated under the accounting's lock, but <see cref="OnThread"/> (added to at the end of each step).
/// </summary>
internal sealed class Invocation(int id, long start, string? operationName, OperationKind kind)
{
    public int Id { get; } = id;

    public long Start { get; } = start;

    public string? OperationName { get; } = operationName;

    public OperationKind Kind { get; } = kind;

    public bool StartedBefore { get; init; }

    /// <summary>What <see cref="IProfileNames.CodeOf"/> gave once a step of it ran (in process: its box or delegate method).</summary>
    public object? Code;

    public MethodKey? Key;

    /// <summary>The method that awaits it (<c>TaskWaitBegin</c>: the awaiting box).</summary>
    public Invocation? Awaiter;

    /// <summary>The promise it was joined into at its completion (<c>Task.WhenAll</c>, <c>Unwrap</c>: the promise's awaiter awaits it).</summary>
    public Invocation? JoinedInto;

    /// <summary>The method (or delegate task) whose step was running on the thread that created it.</summary>
    public Invocation? Creator;

    /// <summary>The thread it was created on, and the stretch of that thread's code it was created in.</summary>
    public ThreadSteps? CreatedOn;

    public long CreatedIn;

    /// <summary>For a delegate task: the last async method box created in its step (an async lambda the task runs).</summary>
    public Invocation? LastBox;

    /// <summary>The delegate task this box continues (<c>Task.Run(async () => ...)</c>: one call, named after the task).</summary>
    public Invocation? MergedFrom;

    /// <summary>A box of <c>Task.Run(async () => ...)</c> that completed before its delegate task: recorded when the task ends.</summary>
    public bool WaitsForItsTask;

    /// <summary>Its own steps, nested steps of others excluded, and the steps of the folded code below it.</summary>
    public long OnThread;

    /// <summary>Time suspended awaiting methods the profile lists (not its own wall time).</summary>
    public long ChildWall;

    /// <summary>When it parked on an await (0: running, or not known), and what it awaited, if the profile follows it.</summary>
    public long AwaitingSince;

    public Invocation? Awaited;

    /// <summary>A promise: a call the profile lists was joined into it.</summary>
    public bool JoinedListed;

    /// <summary>Its completion (0: pending).</summary>
    public long End;

    /// <summary>Once recorded: its node in the call tree, or the node of the listed call above it (what its children hang under).</summary>
    public CallNode? Anchor;
}
