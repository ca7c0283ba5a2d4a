namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>How a method's step ended.</summary>
internal enum AsyncStepEnd
{
    /// <summary>The method returned: its task completed.</summary>
    Completed,

    /// <summary>An exception left the method.</summary>
    Faulted,

    /// <summary>The method gave its thread back without finishing: it awaited something not yet done.</summary>
    Left,
}

/// <summary>
/// One step of one async method: from its resume to the point it completed, threw or awaited, on one thread, within one
/// dispatch context. <see cref="MethodId"/> is the runtime's id of the method (the native code address of a state
/// machine's <c>MoveNext</c>, of a runtime-async method's resume point; 0 for a resume past the end of the stack its
/// context was resumed with, not seen on the real applications) and
/// <see cref="ResumedState"/> the await it resumed from (a state machine's <c>&lt;&gt;1__state</c>; -1 for a first
/// step or a runtime-async method). Times are <see cref="DateTime"/> ticks (UTC).
/// </summary>
internal readonly record struct AsyncStep(ulong OsThreadId, ulong Context, ulong MethodId, int ResumedState, long Start, long End, AsyncStepEnd How);

/// <summary>What an <see cref="AsyncStepAssembler"/> hands on.</summary>
internal interface IAsyncStepSink
{
    void OnStep(in AsyncStep step);

    /// <summary>A dispatch context was created (work queued to run async code later) while <paramref name="parent"/> ran (0: none).</summary>
    void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at);
}

/// <summary>
/// A sink that also takes the callers of the steps it asks for, and, while it watches, each stack a context resumes with:
/// what debug mode needs when the async events are its only source (no TPL events to say a step's awaiters or where it
/// parked). A step's callers are known once its context ends: a state machine's stack, captured as its context resumes,
/// lacks the callers that had not yet awaited it then (they await it after it was queued); the runtime appends them
/// (<see cref="AsyncEventKind.AppendStateMachineAsyncCallstack"/>) as it resumes them inline.
/// </summary>
internal interface IAsyncStackSink : IAsyncStepSink
{
    /// <summary>A step (instead of <see cref="IAsyncStepSink.OnStep"/>): the object to give its callers to at its context's end, or null.</summary>
    SlowEventStep? OnStepWithCallers(in AsyncStep step);

    /// <summary><paramref name="step"/>'s callers are in it (<see cref="SlowEventStep.SetCallers"/>).</summary>
    void OnCallersKnown(SlowEventStep step);

    /// <summary>True while <see cref="OnStackResumed"/> is wanted (a volatile read per resumed stack).</summary>
    bool WatchesStacks { get; }

    /// <summary>Each thread's last contexts' stacks are to be kept (<see cref="AsyncStepAssembler.RecentStacks"/>): a copy per context.</summary>
    bool RemembersStacks { get; }

    /// <summary>Context <paramref name="context"/>, resumed at <paramref name="resumedAt"/>, runs this stack (leaf first), as far as its events so far gave it.</summary>
    void OnStackResumed(ulong context, long resumedAt, ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states);
}

/// <summary>A stack a context ran with, as <see cref="AsyncStepAssembler.RecentStacks"/> gives it: true stops the search.</summary>
internal delegate bool RecentStack(ulong context, long resumedAt, ReadOnlyMemory<ulong> methods, ReadOnlyMemory<int> states);

/// <summary>
/// A sink that takes each run of a context whole (<see cref="AsyncStepAssembler"/> then hands it no single
/// <see cref="IAsyncStepSink.OnStep"/>): what the profiler needs to tell calls apart without a box's identity.
/// </summary>
internal interface IAsyncRunSink : IAsyncStepSink
{
    /// <summary>
    /// One run, on the thread that delivered its buffer; the spans are the assembler's and are valid during the call
    /// only. A context created outside any context comes as a run of context 0 with no stack.
    /// </summary>
    void OnRun(in AsyncRun run);
}

/// <summary>
/// A context's run on one thread: the stack it ran with (leaf first, method ids and the awaits each is parked at,
/// with the callers the runtime appended during the run), its method steps by frame, and the contexts created in it,
/// each with the frame whose step was running (-1: none).
/// </summary>
internal readonly ref struct AsyncRun(ulong osThreadId, ulong context, long resumedAt, ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states,
    ReadOnlySpan<AsyncRunStep> steps, ReadOnlySpan<AsyncRunCreation> created)
{
    public ulong OsThreadId { get; } = osThreadId;

    public ulong Context { get; } = context;

    public long ResumedAt { get; } = resumedAt;

    public ReadOnlySpan<ulong> Methods { get; } = methods;

    public ReadOnlySpan<int> States { get; } = states;

    public ReadOnlySpan<AsyncRunStep> Steps { get; } = steps;

    public ReadOnlySpan<AsyncRunCreation> Created { get; } = created;
}

/// <summary>A step of a run: the frame of the run's stack whose method ran (past the stack's end: not known), its bounds and how it ended.</summary>
internal readonly record struct AsyncRunStep(int Frame, long Start, long End, AsyncStepEnd How);

/// <summary>
/// A context created in a run at <paramref name="At"/>, while the step of frame <paramref name="Frame"/> ran (-1: no
/// step); <paramref name="RuntimeAsync"/>: a runtime-async chain's (it suspended), else a state machine's (a box parked).
/// </summary>
internal readonly record struct AsyncRunCreation(ulong Context, long At, int Frame, bool RuntimeAsync);
