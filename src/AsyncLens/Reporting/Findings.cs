using System.Diagnostics;
using AsyncLens.Attribution;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Reporting;

/// <summary>
/// What a detector saw, captured on the detecting thread with cheap reads only (objects, ints,
/// timestamps). Names, lines and text are resolved later by <see cref="ReportBuilder"/> on the
/// reporter thread, so no app thread ever waits for a PDB to load.
/// </summary>
internal abstract record Finding(int TaskId, DateTimeOffset Timestamp);

/// <summary>
/// A step that ran (or is still running) past the threshold, or a stretch standing in for one: the thread it ran on,
/// its async stack and creation record, and what it left behind for <see cref="StretchLocator"/> to tell which code
/// the time went to (<paramref name="Evidence"/>).
/// </summary>
internal sealed record StepFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    int ThreadId,
    RawAsyncStack Stack,
    TaskRecord? Record,
    StretchEvidence Evidence) : Finding(TaskId, Timestamp);

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
    StepContext? Step) : Finding(TaskId, Timestamp)
{
    /// <summary>Where the stuck continuation is queued, for a sync-over-async deadlock (this thread's context, or its one-at-a-time scheduler).</summary>
    public string? QueuedTo { get; init; }

    /// <summary>The ASP.NET Core endpoint whose handler was running when the wait began (see <see cref="WaitSites"/>).</summary>
    public object? Endpoint { get; init; }

    /// <summary>sync-over-async-deadlock: the async method (and its state) whose continuation is queued to the blocked thread.</summary>
    public (Task Box, int State)? Stuck { get; init; }

    /// <summary>The outermost method of the runtime-async chain the waited task stood for, where it was read (.NET 11).</summary>
    public RuntimeAsyncFrame? WaitedChain { get; init; }
}

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
    TaskRecord? Record) : Finding(TaskId, Timestamp)
{
    /// <summary>Set when the task was given to <c>Forget()</c>: the line that forgot it (its creation site in the report).</summary>
    public ForgetSite? ForgottenAt { get; init; }
}

/// <summary>
/// An async void method threw, and the process is going down for it: the method's box (after its first await) or the
/// stack it faulted on (before), its creation record, or only the method (<paramref name="MoveNext"/>) when debug mode
/// did not see it start.
/// </summary>
internal sealed record AsyncVoidFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    Exception Exception,
    BoxInfo? Box,
    StackFrame[]? FaultStack,
    TaskRecord? Record,
    System.Reflection.MethodBase? MoveNext) : Finding(TaskId, Timestamp);

/// <summary>
/// A WhenAll promise (<paramref name="TaskId"/>) that faulted with several exceptions, whose await rethrew only
/// <paramref name="Seen"/>: the others (each with what is known of the task that threw it), the stack of the rethrow, and
/// the async step it happened in.
/// </summary>
internal sealed record LostFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    Exception Seen,
    IReadOnlyList<(Exception Exception, LostMember? Task)> Lost,
    StackFrame[] AwaitStack,
    StepContext? Step) : Finding(TaskId, Timestamp);

/// <summary>A task of a WhenAll whose exception was not seen: its id, creation record, and box or delegate.</summary>
internal sealed record LostMember(int TaskId, TaskRecord? Record, BoxInfo? Box, Delegate? Action);

/// <summary>
/// An OperationCanceledException with a canceled token (<paramref name="Canceled"/>) rethrown in an async method that may
/// await in a finally block: the stack it was thrown on, the step, and the cancellation the try block ended with, if any.
/// </summary>
internal sealed record CleanupFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    OperationCanceledException Canceled,
    StackFrame[] Stack,
    StepContext? Step,
    OperationCanceledException? Pending) : Finding(TaskId, Timestamp);

/// <summary>Pending async methods the GC collected, leaf first (a chain that died together is one report).</summary>
internal sealed record CollectedFinding(
    int TaskId,
    DateTimeOffset Timestamp,
    IReadOnlyList<(int TaskId, BoxInfo Box, int State)> Chain,
    TaskRecord? Record) : Finding(TaskId, Timestamp);

/// <summary>The engine hit a bug of its own and switched itself off; the app goes on.</summary>
internal sealed record EngineFailure(Exception Exception) : Finding(0, DateTimeOffset.UtcNow);
