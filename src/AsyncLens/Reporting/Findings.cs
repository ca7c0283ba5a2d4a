using System.Diagnostics;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Reporting;

/// <summary>
/// What a detector saw, captured on the detecting thread with cheap reads only (objects, ints,
/// timestamps). Names, lines and text are resolved later by <see cref="ReportBuilder"/> on the
/// reporter thread, so no app thread ever waits for a PDB to load.
/// </summary>
internal abstract record Finding(int TaskId, DateTimeOffset Timestamp);

/// <summary>A step of the async method <paramref name="StateMachine"/> that ran (or is still running, <paramref name="Ongoing"/>) for <paramref name="Seconds"/>.</summary>
internal sealed record StepFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    int ThreadId,
    Type StateMachine,
    int ResumedState,
    int StoppedState,
    double Seconds,
    bool Ongoing,
    RawAsyncStack Stack,
    TaskRecord? Record) : Finding(TaskId, Timestamp)
{
    /// <summary>Async methods whose box the step created: each ran its first step inside this one.</summary>
    public IReadOnlyList<FirstStep> FirstSteps { get; init; } = [];

    /// <summary>
    /// A stretch no step brackets, reported as the first step of <see cref="StateMachine"/>: what the thread that
    /// switched debug mode on ran before it first blocked on a task (async Main's first step), or the start of an
    /// ASP.NET Core request that began outside any step (the first request on a connection). The framework's own
    /// work is in it too (startup, request parsing), so it is reported only where its code names a blocking call,
    /// or one call of the user's inside an async method it called.
    /// </summary>
    public bool Unbracketed { get; init; }

    /// <summary>
    /// A step of a framework method while the process was busy loading and compiling code: reported only where it
    /// ran the first step of a method of the user's that made a blocking call.
    /// </summary>
    public bool WarmUp { get; init; }

    /// <summary>A gap in the step is evidence only for a blocking call (see <see cref="Unbracketed"/>, <see cref="WarmUp"/>).</summary>
    public bool OnlyBlockingCauses => Unbracketed || WarmUp;
}

/// <summary>
/// An async method called from a step that ran until its first await that did not complete at once, and
/// parked there (its box created then, in <paramref name="State"/>; what awaits it is in its record).
/// No event marks where that first step began, so its time is inside the calling step's: <paramref name="GapTicks"/>
/// is the time from the previous task created in the step (or the step's start) to this box's creation, an upper
/// bound of it.
/// </summary>
internal sealed record FirstStep(TaskRecord Record, Task Task, BoxInfo Box, int State, long GapTicks);

/// <summary>A thread blocked in Wait/Result/GetResult on <paramref name="WaitedTask"/>.</summary>
internal sealed record WaitFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    int ThreadId,
    StackFrame[] WaitStack,
    Task? WaitedTask,
    int WaitedState,
    double Seconds,
    bool Ongoing,
    StepContext? Step) : Finding(TaskId, Timestamp);

/// <summary>The async step (<paramref name="Box"/>) or delegate task (<paramref name="Code"/>) a blocking wait happened in.</summary>
internal sealed record StepContext(int TaskId, BoxInfo? Box, System.Reflection.MethodInfo? Code, int ResumedState, RawAsyncStack Stack, TaskRecord? Record);

/// <summary>A task that faulted with nobody observing it.</summary>
internal sealed record FaultFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    Exception? Exception,
    BoxInfo? Box,
    Delegate? Action,
    StackFrame[]? FaultStack,
    TaskRecord? Record) : Finding(TaskId, Timestamp);

/// <summary>Pending async methods the GC collected, leaf first (a chain that died together is one report).</summary>
internal sealed record CollectedFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    IReadOnlyList<(int TaskId, BoxInfo Box, int State)> Chain,
    TaskRecord? Record) : Finding(TaskId, Timestamp);

/// <summary>The engine hit a bug of its own and switched itself off; the app goes on.</summary>
internal sealed record EngineFailure(Exception Exception) : Finding(0, DateTimeOffset.UtcNow);
