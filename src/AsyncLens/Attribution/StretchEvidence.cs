using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Attribution;

/// <summary>
/// What was recorded about one slow stretch, as data: where its method resumed and stopped, how its time split
/// between running on a CPU and being blocked, and the traces what ran left behind (the boxes it created, a
/// synchronous wait, an exception, the ASP.NET Core endpoint it matched). <see cref="StretchLocator"/> decides from
/// it, and from the code's IL and lines, which code the time went to and which fix applies.
/// </summary>
/// <param name="StateMachine">The async method whose step it is; null for a stretch no method of the user's brackets (a request's start).</param>
/// <param name="ResumedState">The await it resumed from (-1: the method's start).</param>
/// <param name="StoppedState">The await it stopped at, <see cref="Runtime.Layout.AsyncState.Done"/> when it completed the method, <see cref="Runtime.Layout.AsyncState.Unknown"/> when not known.</param>
/// <param name="Seconds">The stretch's own time.</param>
/// <param name="Ongoing">Still running (a hung step): nothing is known to have run yet.</param>
internal sealed record StretchEvidence(Type? StateMachine, int ResumedState, int StoppedState, double Seconds, bool Ongoing)
{
    /// <summary>The task of the step (0: none, as in a stretch no step brackets).</summary>
    public int TaskId { get; init; }

    /// <summary>Async methods of the user's whose box the stretch created: each ran its first step inside it.</summary>
    public IReadOnlyList<FirstStep> FirstSteps { get; init; } = [];

    /// <summary>
    /// With no box known (debug mode on the async events alone): the async methods the stretch's method was found awaiting
    /// when it was next resumed, each with the await it was parked at, innermost first. A method the stretch called whose
    /// first step it ran parked where this says; one not in it ran to completion.
    /// </summary>
    public IReadOnlyList<(Type StateMachine, int State)> ParkedBelow { get; init; } = [];

    /// <summary>
    /// A stretch no step brackets, reported as the first step of <see cref="StateMachine"/>: what the thread that
    /// switched debug mode on ran before it first blocked on a task (async Main's first step), or an ASP.NET Core
    /// request (one that began outside any step, or ran inside a step of Kestrel's). The framework's own work is in it
    /// too (startup, request parsing), so it is reported only where its code names a blocking call, or one call of the
    /// user's inside an async method it called, or where the request's handler held its time.
    /// </summary>
    public bool Unbracketed { get; init; }

    /// <summary>
    /// A step of a runtime-async chain (.NET 11's BCL, compiled with runtime async: no box, no code read for it): the
    /// framework's step, judged as a framework state machine's is. A method of the user's whose first step ran in it is
    /// its callee, as one a framework state machine called through a delegate is.
    /// </summary>
    public bool RuntimeAsync { get; init; }

    /// <summary>
    /// A delegate task's run (<c>Task.Run</c>, <c>Task.Factory.StartNew</c> on any scheduler: an actor framework's such as
    /// Akka.NET's for <c>ReceiveAsync</c>, a <c>ConcurrentExclusiveSchedulerPair</c>'s; a continuation task): the place for
    /// blocking work, so only the first step of an async method of the user's it ran is reported, as a runtime-async
    /// step's callee is. <see cref="DelegateCode"/> is the delegate's method where it is the app's own and not async: its
    /// code is read first, and a cause in it is the delegate's own work, not reported.
    /// </summary>
    public bool DelegateRun { get; init; }

    public MethodInfo? DelegateCode { get; init; }

    /// <summary>
    /// A step, or a request, while the process was busy loading and compiling code: reported only for a cause in the
    /// app's own code. A framework step: where it ran the first step of a method of the user's that made a blocking
    /// call (a handler: named a cause); a step of the user's: a blocking call, a synchronous API with an async twin, a
    /// loop, or a call into the app's own code (not a package's).
    /// </summary>
    public bool WarmUp { get; init; }

    /// <summary>
    /// Code the whole process compiled while the stretch ran, and the stretch's bounds (DateTime ticks): 0 when not
    /// measured. See <see cref="Judged"/>.
    /// </summary>
    public long ProcessJitTicks { get; init; }

    public long FromTicks { get; init; }

    public long ToTicks { get; init; }

    /// <summary>
    /// The evidence with <see cref="WarmUp"/> also set when the process, AsyncLens's own compiling taken off
    /// (<paramref name="engineJitTicks"/>, known once its reporter is done with earlier reports), compiled code for a
    /// tenth of the stretch or more: its threads then wait on each other's type loading and compilation, and libraries
    /// run their code paths for the first time (a healthy handler's first database queries: 0.13-0.29 s under load,
    /// its thread waiting for another's). Not for a step of the user's code whose time went mostly to computing: the
    /// runtime recompiles hot code (tiering) on a thread of its own meanwhile, and that is no warm-up. A step still
    /// running (<see cref="Ongoing"/>) is warming up whatever its time went to: it is judged again at the watchdog's next
    /// tick and at its end, where its own thread's compiling is read (EF Core's first query, its model built on the
    /// async path in the first step of an async method of the app's: 1.0 s on a loaded machine, reported as a hung
    /// step of its caller while its end was judged warm-up).
    /// </summary>
    public StretchEvidence Judged(long engineJitTicks)
    {
        if (WarmUp || ProcessJitTicks <= 0 || (ProcessJitTicks - engineJitTicks) * 10 < ToTicks - FromTicks)
            return this;
        var users = StateMachine is { } stateMachine && CodeOrigin.IsUserCode(stateMachine.Assembly);
        return users && Time.MostlyOnCpu && !Ongoing ? this : this with { WarmUp = true };
    }

    /// <summary>The OS id of the thread the stretch ran on (0: not known).</summary>
    public long OsThreadId { get; init; }

    /// <summary>
    /// By how much the stretch's own time, less the time the whole process stood still, passed the threshold when it was
    /// judged slow; <see cref="long.MaxValue"/> when not judged that way (a hung step, a request).
    /// </summary>
    public long SlackTicks { get; init; } = long.MaxValue;

    /// <summary>
    /// The evidence with the stretch's waits for the runtime's registry of active tasks (<see cref="RegistryWaits"/>,
    /// <paramref name="waitedTicks"/>, known once the runtime's events about them came) taken off its time, as
    /// AsyncLens's own; null when the stretch is not slow without them.
    /// </summary>
    public StretchEvidence? WithoutRegistryWaits(long waitedTicks)
    {
        // A wait's measured duration runs on past its wake-up, to when the thread got the lock: its wait for a CPU meanwhile is
        // already off the stretch's time. Only what the stretch spent blocked can have been these waits.
        if (Time.IsKnown)
            waitedTicks = Math.Min(waitedTicks, Time.Blocked);
        if (waitedTicks <= 0 || SlackTicks == long.MaxValue)
            return this;
        if (waitedTicks > SlackTicks)
            return null;
        return this with
        {
            Seconds = Seconds - (double)waitedTicks / TimeSpan.TicksPerSecond,
            Time = Time.IsKnown ? Time with { Blocked = Time.Blocked - waitedTicks } : Time,
        };
    }

    /// <summary>How the stretch's own time split between running on a CPU and being blocked.</summary>
    public TimeSplit Time { get; init; } = TimeSplit.Unknown;

    /// <summary>A synchronous wait on a task (<c>.Result</c>, <c>.Wait()</c>) began on its thread while it ran.</summary>
    public bool Waited { get; init; }

    /// <summary>
    /// How long its synchronous waits on tasks took, those under the slow threshold (the longer ones are reported on their
    /// own and are not in <see cref="Seconds"/>); null where not measured (steps from the async events).
    /// </summary>
    public long? ShortWaitTicks { get; init; }

    /// <summary>
    /// Whether the synchronous waits on tasks it made could have taken its time: made, and (when measured, the stretch
    /// over) at least half of it.
    /// </summary>
    public bool WaitsCouldHold => Waited && (Ongoing || ShortWaitTicks is not { } waited || waited * 2 >= (long)(Seconds * TimeSpan.TicksPerSecond));

    /// <summary>An exception was thrown on its thread while it ran: exception handlers may have run.</summary>
    public bool Threw { get; init; }

    /// <summary>The ASP.NET Core handler whose endpoint matched while it ran, and the time from the match on.</summary>
    public HandlerRun? Handler { get; init; }

    /// <summary>A gap is evidence only for a blocking call (see <see cref="Unbracketed"/>, <see cref="WarmUp"/>).</summary>
    public bool OnlyBlockingCauses => Unbracketed || WarmUp;
}

/// <summary>
/// An async method called from a step that ran until its first await that did not complete at once, and
/// parked there (its box created then, in <paramref name="State"/>; what awaits it is in its record).
/// No event marks where that first step began, so its time is inside the calling step's: <paramref name="GapTicks"/>
/// is the time from the previous task created in the step (or the step's start) to this box's creation, an upper
/// bound of it. <paramref name="Record"/> is null where no task is recorded (debug mode on the async events alone: the
/// box is known from the context its park created).
/// </summary>
internal sealed record FirstStep(TaskRecord? Record, Type StateMachine, int State, long GapTicks)
{
    /// <summary>Its task's id (0: not known).</summary>
    public int TaskId => Record?.Id ?? 0;

    public AsyncMethodSymbols Symbols => AsyncMethodSymbols.For(StateMachine);

    /// <summary>Its stack as the step left it: its own frame alone (what awaits it is another box of the step's).</summary>
    public RawAsyncStack Stack => BoxInfo.OfStateMachine(StateMachine) is { } box
        ? RawAsyncStack.Of([new RawFrame(TaskId, box, State, null, null)])
        : RawAsyncStack.Empty;
}

/// <summary>
/// ASP.NET Core matched a request to the endpoint of <paramref name="Method"/> in the stretch, which then ran it:
/// <paramref name="Ticks"/> from the match to the first box created after it (where the handler's first step, run
/// inline, ended) or to the request's end, an upper bound of the handler's first step.
/// </summary>
internal sealed record HandlerRun(MethodInfo Method, long Ticks);

/// <summary>
/// How a stretch's own time split: on a CPU (computing), or blocked (off any CPU, not waiting for one: in I/O, a
/// sleep, a lock), from the thread's own scheduler figures. Unknown where they cannot be read.
/// </summary>
internal readonly record struct TimeSplit(long OnCpu, long Blocked)
{
    public static readonly TimeSplit Unknown = new(-1, -1);

    public bool IsKnown => OnCpu >= 0 && Blocked >= 0 && OnCpu + Blocked > 0;

    /// <summary>At least two thirds of the time on a CPU: the time went to computing.</summary>
    public bool MostlyOnCpu => IsKnown && OnCpu >= 2 * Blocked;

    /// <summary>At least two thirds of the time blocked: the time went to waiting (I/O, a sleep, a lock).</summary>
    public bool MostlyBlocked => IsKnown && Blocked >= 2 * OnCpu;
}
