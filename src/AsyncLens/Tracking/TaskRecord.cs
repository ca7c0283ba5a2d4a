namespace AsyncLens.Tracking;

internal enum TaskOrigin : byte
{
    /// <summary>An async method's box ("Async: &lt;Name&gt;d__N").</summary>
    AsyncMethod,

    /// <summary>A delegate task: Task.Run, Task.Factory.StartNew, ContinueWith ("Task: ...").</summary>
    Delegate,

    /// <summary>
    /// .NET 11: a runtime-async chain's task (<see cref="Runtime.Layout.RuntimeAsyncLayout.OperationName"/>), made where
    /// synchronous code met runtime-async code (the BCL's): each of its dispatches is a step of the chain's methods.
    /// </summary>
    RuntimeAsync,
}

/// <summary>
/// What was known when a task was created: the frame running on the creating thread. The
/// creation site itself is worked out only when a report needs it.
/// </summary>
internal sealed class TaskRecord
{
    // Creator chains are followed for Task.Run lambdas and framework creators; a cap keeps a
    // task that spawns its successor forever from keeping every ancestor's record alive.
    private const int MaxCreatorDepth = 4;

    public TaskRecord(int id, TaskOrigin origin, long created, int threadId, Frame? creator, CreationSample? sample)
    {
        Id = id;
        Origin = origin;
        Created = created;
        ThreadId = threadId;
        Sample = sample;
        if (creator is not null)
            (CreatorCode, CreatorResumedState, CreatorTaskId, CreatorRecord, Depth) = Creator(creator.CreatorCode, creator.ResumedState, creator.TaskId, creator.Record);
    }

    /// <summary>
    /// Created inside a delegate task no frame stands for (debug mode's steps from the async events,
    /// <see cref="StepSourceKind.AsyncEvents"/>): <paramref name="code"/> is the delegate's method.
    /// </summary>
    public TaskRecord(int id, TaskOrigin origin, long created, int threadId, System.Reflection.MethodInfo code, int creatorTaskId, TaskRecord? creatorRecord, CreationSample? sample)
        : this(id, origin, created, threadId, null, sample) =>
        (CreatorCode, CreatorResumedState, CreatorTaskId, CreatorRecord, Depth) = Creator(code, Runtime.Layout.AsyncState.Unknown, creatorTaskId, creatorRecord);

    private static (object?, int, int, TaskRecord?, int) Creator(object? code, int state, int taskId, TaskRecord? record) =>
        record is { Depth: < MaxCreatorDepth } parent ? (code, state, taskId, parent, parent.Depth + 1) : (code, state, taskId, null, 0);

    public int Id { get; }

    public TaskOrigin Origin { get; }

    /// <summary>Event time (DateTime ticks) of creation.</summary>
    public long Created { get; }

    public int ThreadId { get; }

    public int Depth { get; }

    /// <summary>The box info or delegate method of the step that was running when this task was created.</summary>
    public object? CreatorCode { get; }

    public int CreatorResumedState { get; }

    public int CreatorTaskId { get; }

    public TaskRecord? CreatorRecord { get; }

    /// <summary>A real stack captured at the first creation from the same context (shared by later ones).</summary>
    public CreationSample? Sample { get; }

    /// <summary>The id of the async method that awaits this task, once one does.</summary>
    public int AwaiterId;

    /// <summary>The async method's box type, once its first step ran (or it was looked up).</summary>
    public Runtime.BoxInfo? Box;

    /// <summary>
    /// With the async events as the step source (<see cref="StepSourceKind.AsyncEvents"/>): the record of the method
    /// that awaits this task, and the await this one last parked at. A step judged after its chain completed is given
    /// its callers from them. With the TPL events, <see cref="ParkedState"/> is the await its first step parked at, read
    /// at its first resume: a step that ran that first step may be judged after the method completed.
    /// </summary>
    public TaskRecord? Awaiter;

    public int ParkedState = Runtime.Layout.AsyncState.Unknown;

    /// <summary>
    /// Time its steps held a thread (DateTime ticks, nested async steps not counted) and how many steps ran, for the
    /// console's <c>ps --sort busy</c>. Written by the thread that ends a step (a task's steps run one at a time).
    /// </summary>
    public long BusyTicks;

    public int Steps;

    /// <summary>
    /// The next task created in the same step on the same thread. A method called from the step, still
    /// in its first step, creates this task before its own box exists: its box comes later in this chain.
    /// </summary>
    public TaskRecord? NextSibling { get; private set; }

    public int SiblingIndex { get; private set; }

    // A step that creates thousands of tasks in a loop links only the first few.
    private const int MaxSiblings = 16;

    public void Link(TaskRecord next)
    {
        if (SiblingIndex >= MaxSiblings || NextSibling is not null)
            return;
        next.SiblingIndex = SiblingIndex + 1;
        NextSibling = next;
    }
}
