namespace AsyncLens;

/// <summary>
/// One finding of debug mode. The text and JSON formats print exactly these fields;
/// docs/report-schema.md describes each.
/// </summary>
public sealed class AsyncReport
{
    /// <summary>One of <see cref="AsyncReportKinds"/>: <c>slow-step</c>, <c>hung-step</c>, <c>blocking-wait</c>, <c>unobserved-exception</c>, <c>pending-collected</c>, <c>async-void-crash</c>, <c>lost-exceptions</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>The id of the task the report is about (<see cref="Task.Id"/>).</summary>
    public int TaskId { get; init; }

    /// <summary>The managed thread the step or wait ran on, where one did.</summary>
    public int? ThreadId { get; init; }

    /// <summary>The async method, as a person reads it: <c>Shop.FetchUser(int)</c>.</summary>
    public required string Method { get; init; }

    /// <summary>The most specific line: the blocking call, the line that waited, the throw, or the await parked on.</summary>
    public SourceLine? Location { get; init; }

    /// <summary>For a step: the await it resumed from (or the method start).</summary>
    public SourceLine? ResumedAt { get; init; }

    /// <summary>For a finished step: the await it stopped at next, or the end of the method.</summary>
    public SourceLine? StoppedAt { get; init; }

    /// <summary>For a finished step: it ran to the method's end (<see cref="StoppedAt"/> is the end, not an await).</summary>
    public bool Ended { get; init; }

    /// <summary>
    /// For a step: true when it is the method's first step, from its start to its first await that did not complete
    /// at once (<see cref="ResumedAt"/> is then the method's first line). It ran inside the step of the method that
    /// called it: no event marks where it began.
    /// </summary>
    public bool FirstStep { get; init; }

    /// <summary>Where the task was created, in user code.</summary>
    public SourceLine? CreatedAt { get; init; }

    /// <summary>How long the step ran or the thread waited, in seconds.</summary>
    public double? DurationSeconds { get; init; }

    /// <summary>True when the step or wait was still running when reported.</summary>
    public bool Ongoing { get; init; }

    /// <summary>The awaiter chain, root first, each frame with the line it is parked on (or running).</summary>
    public IReadOnlyList<AsyncStackFrame> AsyncStack { get; init; } = [];

    /// <summary>For a blocking wait: what the thread waits for.</summary>
    public WaitTarget? WaitingOn { get; init; }

    /// <summary>For an unobserved exception: the exception.</summary>
    public ExceptionInfo? Exception { get; init; }

    /// <summary>For <c>cancelled-cleanup</c>: where the cancellation that ended the try block was thrown, when it was one.</summary>
    public SourceLine? CancelledAt { get; init; }

    /// <summary>For <c>sync-over-async-deadlock</c>: the await whose continuation is queued to the blocked thread and cannot run.</summary>
    public SourceLine? ContinuationAt { get; init; }

    /// <summary>For <c>lost-exceptions</c>: each exception of the WhenAll that the await did not throw, so nobody saw.</summary>
    public IReadOnlyList<LostException>? LostExceptions { get; init; }

    /// <summary>The first line of the text report, without the <c>asynclens: kind:</c> prefix.</summary>
    public required string Message { get; init; }

    /// <summary>How to fix it, in .NET terms.</summary>
    public string? Fix { get; init; }

    /// <summary>When the report was made (UTC).</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>
    /// 0 for a report in full. Else this is a summary of repeats: the site (<see cref="Kind"/>, <see cref="Method"/>,
    /// <see cref="Location"/>) was reported in full earlier, and came this many more times since
    /// <see cref="RepeatsSince"/>; <see cref="DurationSeconds"/> is the longest of them.
    /// </summary>
    public int Repeats { get; init; }

    /// <summary>For a summary of repeats: the start of the interval it counts.</summary>
    public DateTimeOffset? RepeatsSince { get; init; }
}

/// <summary>The report kinds (public contract: the <c>kind</c> field).</summary>
public static class AsyncReportKinds
{
    /// <summary>A synchronous stretch of an async method held its thread for at least the threshold.</summary>
    public const string SlowStep = "slow-step";

    /// <summary>A step still running past ten times the threshold.</summary>
    public const string HungStep = "hung-step";

    /// <summary>A synchronous wait on a task (<c>.Result</c>, <c>.Wait()</c>, <c>GetAwaiter().GetResult()</c>) blocked a thread.</summary>
    public const string BlockingWait = "blocking-wait";

    /// <summary>A task faulted and nobody awaited it or read its exception.</summary>
    public const string UnobservedException = "unobserved-exception";

    /// <summary>An async method was garbage-collected while still pending.</summary>
    public const string PendingCollected = "pending-collected";

    /// <summary>An <c>async void</c> method threw: nothing can catch it, and the process goes down.</summary>
    public const string AsyncVoidCrash = "async-void-crash";

    /// <summary>An await in a <c>finally</c> block or a <c>DisposeAsync</c> threw at once: its token was already canceled.</summary>
    public const string CancelledCleanup = "cancelled-cleanup";

    /// <summary>A thread blocked on a task whose continuation is queued to that thread's own SynchronizationContext.</summary>
    public const string SyncOverAsyncDeadlock = "sync-over-async-deadlock";

    /// <summary>A <c>Task.WhenAll</c> faulted with several exceptions and the code that awaited it saw only the first.</summary>
    public const string LostExceptions = "lost-exceptions";
}

/// <summary>A source line; <see cref="File"/> is the path the PDB records.</summary>
public sealed record SourceLine(string File, int Line, string? Method = null);

/// <summary>One frame of an async stack.</summary>
public sealed record AsyncStackFrame(string Method, string? File, int? Line);

/// <summary>What a blocked thread waits for.</summary>
public sealed record WaitTarget(int TaskId, string Description, SourceLine? ParkedAt);

/// <summary>An exception nobody saw: type, message, the method that threw it and where, and where its task was created.</summary>
public sealed record LostException(string Type, string Message, string? Method, SourceLine? ThrownAt, SourceLine? CreatedAt);

/// <summary>An exception as reported: type, message and stack trace.</summary>
public sealed record ExceptionInfo(string Type, string Message, string? StackTrace);
