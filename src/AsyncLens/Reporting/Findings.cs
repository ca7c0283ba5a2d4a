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
    /// The stretch the thread that switched debug mode on ran before it first blocked on a task: the first step of
    /// async Main. Startup work of the runtime and the framework is in it too, so it is reported only where its
    /// code names a blocking call or one call of the user's.
    /// </summary>
    public bool Startup { get; init; }

    /// <summary>
    /// A step of a framework method while the process was busy loading and compiling code: reported only where it
    /// ran the first step of a method of the user's that made a blocking call.
    /// </summary>
    public bool WarmUp { get; init; }

    /// <summary>A gap in the step is evidence only for a blocking call (see <see cref="Startup"/>, <see cref="WarmUp"/>).</summary>
    public bool OnlyBlockingCauses => Startup || WarmUp;
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
