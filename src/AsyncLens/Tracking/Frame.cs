using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Tracking;

internal enum FrameKind : byte
{
    /// <summary>One MoveNext of an async method box: a step between two awaits.</summary>
    AsyncStep,

    /// <summary>
    /// A delegate task running (Task.Run, ContinueWith, a scheduler's task): the designated place for blocking work, judged
    /// only for the first step of an async method it ran (see <see cref="Detection.SlowSteps"/>).
    /// </summary>
    Delegate,

    /// <summary>The runtime running a completed task's continuations inline.</summary>
    Notification,

    /// <summary>
    /// The thread that switched debug mode on, from then until it first blocks on a task: with a startup hook,
    /// async Main's first step (no event brackets it: Main's box does not exist before its first await).
    /// </summary>
    Prelude,

    /// <summary>
    /// An ASP.NET Core request whose processing began on a thread-pool thread outside any step (the first request
    /// on a connection starts in a work item of Kestrel's, not in a task): from its start until that work item ends;
    /// or a request run inside a step of the framework's (Kestrel's request loop), from its start to its end or the step's.
    /// </summary>
    Request,

    /// <summary>
    /// A thread-pool work item, a timer's callback or a thread of the app's own, begun when its thread ran nothing
    /// bracketed (see <see cref="ContextEntries"/>): from its start to its end or its first synchronous wait on a task.
    /// Judged as a delegate task's run is.
    /// </summary>
    WorkItem,
}

/// <summary>
/// One synchronous stretch running on a thread, between TraceSynchronousWorkBegin and End.
/// Frames are reused; <see cref="Version"/> is odd while the frame is live, so the watchdog
/// can tell a frame it read from the next one that reused the object.
/// </summary>
internal sealed class Frame
{
    private int _version;

    public int Version => Volatile.Read(ref _version);

    public int TaskId { get; private set; }

    public FrameKind Kind { get; private set; }

    /// <summary>Event time (DateTime ticks) at Begin.</summary>
    public long Start { get; private set; }

    /// <summary>This thread's JIT compilation time when the step began: time the runtime, not the step's code, spent.</summary>
    public long JitStart { get; private set; }

    /// <summary>
    /// The process's JIT compilation time when it began: for a <see cref="FrameKind.Prelude"/> (it may end on another
    /// thread) and for an async step or a delegate task's run (whether the process was warming up meanwhile, see
    /// <see cref="Detection.SlowSteps"/>); else 0.
    /// </summary>
    public long ProcessJitStart { get; private set; }

    /// <summary>The process's GC pause time when the step began (see <see cref="RuntimeTime"/>).</summary>
    public long GcStart { get; private set; }

    /// <summary>
    /// The thread's time on a CPU, voluntary switches and run-queue delay when the step began (at most 10 ms old), or
    /// <see cref="RunQueue.Unavailable"/>: how the step's time split (see <see cref="Attribution.TimeSplit"/>), and how
    /// long it waited for a CPU (<see cref="WaitedStart"/>).
    /// </summary>
    public long CpuStart = RunQueue.Unavailable;

    public long SwitchesStart = RunQueue.Unavailable;

    public long WaitedStart = RunQueue.Unavailable;

    /// <summary>A synchronous wait on a task began on the thread while this frame was its innermost.</summary>
    public bool Waited;

    /// <summary>
    /// How long the synchronous waits on tasks that began in this frame and ended shorter than the slow threshold took
    /// (the longer ones are reported on their own and taken off its time: <see cref="ExcludedTicks"/>).
    /// </summary>
    public long ShortWaitTicks;

    /// <summary>An exception was thrown on the thread while this frame was its innermost.</summary>
    public bool Threw;

    /// <summary>
    /// The ASP.NET Core endpoint a request matched while this frame was the thread's innermost (its handler runs
    /// next, inline, up to its first await that does not complete at once), when, and when that request ended here.
    /// </summary>
    public object? Endpoint;

    public long EndpointAt;

    public long RequestEndAt;

    /// <summary>The endpoint whose handler runs in this frame now: matched here, its request not over (a wait, a task created, is the handler's).</summary>
    public object? RunningEndpoint => RequestEndAt == 0 ? Endpoint : null;

    /// <summary>Time spent in frames nested inside this one (inline continuations).</summary>
    public long ChildTicks;

    /// <summary>
    /// Of <see cref="ChildTicks"/>, the nested async steps long enough (<see cref="MeasuredChildTicks"/>) to have their
    /// thread's waits for a CPU read at their end, and those waits: taken off this frame's waits as measured, not in
    /// proportion to the time (a step whose nested step was preempted more often than itself would otherwise lose its own time).
    /// </summary>
    public long ChildTicksMeasured;

    public long ChildWaited;

    /// <summary>A nested async step at least this long has its waits for a CPU read at its end (~1 µs a read).</summary>
    public static readonly long MeasuredChildTicks = TimeSpan.TicksPerMillisecond;

    /// <summary>AsyncLens's own counters on the thread when the frame was pushed (see <see cref="EngineTime"/>).</summary>
    public long EventsStart;

    public long SamplesStart;

    public long SampledStart;

    public long BlockedStart;

    /// <summary>AsyncLens's time in async steps nested inside this one (their own time is not this frame's anyway).</summary>
    public long ChildEngineTicks;

    /// <summary>Time spent in blocking waits already reported as such.</summary>
    public long ExcludedTicks;

    public Task? Task { get; private set; }

    public BoxInfo? Box { get; private set; }

    /// <summary>For a delegate frame, the method the delegate runs.</summary>
    public MethodInfo? Code { get; private set; }

    /// <summary>The await the box resumed from (its state when the step began).</summary>
    public int ResumedState { get; private set; }

    /// <summary>
    /// Where the step stopped, noted on the step's own thread as it happened: the await it parked on
    /// (TaskWaitBegin), or <see cref="AsyncState.Done"/> when it completed the method (TraceOperationEnd). Reading the box at the
    /// step's end instead races with another thread that may already have resumed it.
    /// </summary>
    public int StoppedState = AsyncState.Unknown;

    public TaskRecord? Record { get; private set; }

    /// <summary>
    /// When the step's method completed (its TraceOperationEnd), or 0, and the nested frames' time then. What runs on
    /// the thread after that, before the step ends, is the runtime handing the result to the method's awaiters: their
    /// own steps are frames of their own, and the rest is not the method's code.
    /// </summary>
    public long CompletedAt { get; private set; }

    public long ChildTicksAtCompletion { get; private set; }

    /// <summary>The step's method completed at <paramref name="now"/> (noted on its own thread).</summary>
    public void Completed(long now)
    {
        StoppedState = AsyncState.Done;
        CompletedAt = now;
        ChildTicksAtCompletion = ChildTicks;
    }

    /// <summary>
    /// The first task created while this frame was the thread's innermost one; later ones follow through
    /// <see cref="TaskRecord.NextSibling"/>. An async method called from the step runs its first step inside this
    /// one and creates its box only at its first await: these records say which ones did.
    /// </summary>
    public TaskRecord? FirstCreated;

    /// <summary>
    /// The last of them: the next one created in this frame links to it, whatever frames ran nested in between (a
    /// framework's queue running a delegate task inline before the handler it dispatches parks: Wolverine's local queues).
    /// </summary>
    public TaskRecord? LastCreated;

    /// <summary>For a <see cref="FrameKind.Request"/>: when the last task was created in it, and when it was last judged.</summary>
    public long LastCreation;

    public long JudgedUpTo;

    /// <summary>For a <see cref="FrameKind.Request"/> or <see cref="FrameKind.WorkItem"/>: the work items its thread had completed when it began.</summary>
    public long WorkItem;

    /// <summary>
    /// For a <see cref="FrameKind.Request"/> standing in for a framework's handler (a message consumer, a job): the
    /// activity the framework started around that run of it, whose end may come on another thread
    /// (<see cref="ThreadTracker.StandsForNothing"/>).
    /// </summary>
    public System.Diagnostics.Activity? HandlerRun;

    /// <summary>
    /// For a <see cref="FrameKind.Request"/> on the async events alone: when the watchdog last saw it still stand for its
    /// request or handler (<see cref="ThreadTracker.StandsForNothing"/> false), 0 before; its run on its thread ended
    /// within a tick of then, if it stands for nothing at its next event.
    /// </summary>
    public long SeenStandingAt;

    /// <summary>
    /// The async stack the watchdog captured while this step ran (parents are gone once it completes), and the handler of
    /// the request it served, read from its state machine then (a request that ends inside the step has let go of its
    /// HttpContext by the step's end).
    /// </summary>
    public CapturedStack? Captured;

    public bool HungReported;

    private int _slowReported;

    public bool SlowReported => Volatile.Read(ref _slowReported) != 0;

    /// <summary>Claims the slow-step report for this frame: true once, for whoever (step end or exit) asks first.</summary>
    public bool TryClaimSlowReport() => Interlocked.Exchange(ref _slowReported, 1) == 0;

    /// <summary>
    /// Claims it from another thread for the frame of <paramref name="version"/>: false, and any claim undone, when the
    /// frame ended and was reused meanwhile (its owner claims its own frames on its own thread).
    /// </summary>
    public bool TryClaimSlowReport(int version)
    {
        if (Version != version || !TryClaimSlowReport())
            return false;
        if (Version == version)
            return true;
        Volatile.Write(ref _slowReported, 0);
        return false;
    }

    /// <summary>What created tasks in this frame are attributed to: the box's method or the delegate's.</summary>
    public object? CreatorCode => Kind == FrameKind.AsyncStep ? Box : Code;

    public void Enter(int taskId, FrameKind kind, long start, Task? task, BoxInfo? box, MethodInfo? code, int resumedState, TaskRecord? record)
    {
        TaskId = taskId;
        Kind = kind;
        Start = start;
        ChildTicks = ChildTicksMeasured = ChildWaited = 0;
        ExcludedTicks = ShortWaitTicks = 0;
        Task = task;
        Box = box;
        Code = code;
        ResumedState = resumedState;
        StoppedState = AsyncState.Unknown;
        CompletedAt = ChildTicksAtCompletion = 0;
        CpuStart = SwitchesStart = WaitedStart = RunQueue.Unavailable;
        Waited = Threw = false;
        Endpoint = null;
        EndpointAt = RequestEndAt = 0;
        Record = record;
        FirstCreated = LastCreated = null;
        LastCreation = JudgedUpTo = 0;
        HandlerRun = null;
        SeenStandingAt = 0;
        // A delegate task's run is measured as a step is: an async method's first step may run inside it (SlowSteps.Delegates.cs).
        if (kind is FrameKind.AsyncStep or FrameKind.Prelude or FrameKind.Request or FrameKind.Delegate or FrameKind.WorkItem)
        {
            JitStart = RuntimeTime.JitOnThisThread;
            GcStart = RuntimeTime.GcPauses;
        }
        ProcessJitStart = kind is FrameKind.Prelude or FrameKind.AsyncStep or FrameKind.Delegate or FrameKind.WorkItem ? RuntimeTime.JitInProcess : 0;
        Captured = null;
        HungReported = false;
        _slowReported = 0;
        Volatile.Write(ref _version, _version + 1); // odd: live (only the owning thread writes it)
    }

    /// <summary>
    /// A frame nested in this one ended at <paramref name="now"/> on <paramref name="tracker"/>'s thread. A nested async
    /// step's time is all its own. A notification's or a delegate's (continuations or a task run inline) is this frame's,
    /// but for what was nested in it in turn, and for the synchronous waits that began in it: those reported on their own
    /// are not this frame's time either, and the short ones are its evidence of waiting, as if made here.
    /// </summary>
    public void NestedEnded(Frame nested, long now, ThreadTracker tracker)
    {
        if (nested.Kind == FrameKind.AsyncStep)
        {
            ChildTicks += now - nested.Start;
            ChildEngineTicks += tracker.EngineTicksWithin(nested);
            if (now - nested.Start >= MeasuredChildTicks && nested.WaitedStart >= 0 && tracker.OwnTimes().Waited is var waited and >= 0)
                (ChildTicksMeasured, ChildWaited) = (ChildTicksMeasured + (now - nested.Start), ChildWaited + Math.Max(0, waited - nested.WaitedStart));
            return;
        }
        ChildTicks += nested.ChildTicks;
        ChildEngineTicks += nested.ChildEngineTicks;
        (ChildTicksMeasured, ChildWaited) = (ChildTicksMeasured + nested.ChildTicksMeasured, ChildWaited + nested.ChildWaited);
        Interlocked.Add(ref ExcludedTicks, Volatile.Read(ref nested.ExcludedTicks));
        Interlocked.Add(ref ShortWaitTicks, Volatile.Read(ref nested.ShortWaitTicks));
        Waited |= nested.Waited;
    }

    /// <summary>Takes <paramref name="times"/> as the figures the split of the frame's time is measured against.</summary>
    public void Measure(SchedTimes times) => (CpuStart, SwitchesStart, WaitedStart) = (times.OnCpu, times.Switches, times.Waited);

    public void Exit()
    {
        Volatile.Write(ref _version, _version + 1); // even: free
        Task = null;
        Record = null;
        FirstCreated = LastCreated = null;
        Captured = null;
        Endpoint = null;
        HandlerRun = null;
    }
}

/// <summary>An async stack captured at a moment, with the version of the frame it belongs to.</summary>
internal sealed record CapturedStack(int FrameVersion, RawAsyncStack Stack, MethodInfo? HeldHandler = null);

/// <summary>
/// Time the runtime itself takes. JIT compilation on the step's own thread is taken off the step's time.
/// GC pauses stop every thread and are not the step's either, but a step blocked in a call loses nothing to
/// them: they decide whether a step counts as slow, and do not change the duration reported. (Other threads'
/// JIT is left alone: the process-wide figure includes AsyncLens's own reporter thread.)
/// </summary>
internal static class RuntimeTime
{
    public static long JitOnThisThread => System.Runtime.JitInfo.GetCompilationTime(currentThread: true).Ticks;

    public static long JitInProcess => System.Runtime.JitInfo.GetCompilationTime(currentThread: false).Ticks;

    public static long GcPauses => GC.GetTotalPauseDuration().Ticks;

    /// <summary>GC pause time since the step began.</summary>
    public static long GcSince(Frame frame) => GcPauses - frame.GcStart;
}
