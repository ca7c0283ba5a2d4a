using AsyncLens.Detection;
using AsyncLens.Inventory;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens;

/// <summary>
/// Debug mode, assembled: the TPL event listener feeds per-thread step frames and task records;
/// detectors turn what they see into findings; the report writer resolves and prints them.
/// Everything that runs on app threads is a few field reads and writes, and never throws into the app.
/// </summary>
internal sealed partial class DebugEngine : IEngineEvents, IDisposable
{
    private const int ExecutionWork = 2;
    // The async causality status an operation ends with (the runtime's AsyncCausalityStatus).
    private const int StatusCompleted = 1;
    private const int StatusError = 3;
    private const int SynchronousWait = 1;

    private readonly TaskRegistry _registry;
    private readonly TaskTracking _tracking;
    private readonly TaskTable _table = new();
    private readonly CreationSamples _samples = new();
    private readonly ReportWriter _writer;
    private readonly SlowSteps _steps;
    private readonly BlockingWaits _waits;
    private readonly UnobservedExceptions _faults;
    private readonly AsyncVoidCrashes _voids;
    private readonly LostExceptions _lost;
    private readonly CancelledCleanups _cleanups;
    private readonly Watchdog _watchdog;
    private readonly TplListener? _listener;
    private readonly RequestEndpoints _endpoints;
    private readonly RuntimeEvents _runtimeEvents;
    private readonly PendingCollected _collected;
    private readonly Stalls _stalls;
    private readonly StepSourceKind _stepSource;
    private readonly Tracking.AsyncEvents.EventSteps? _eventSteps;
    private int _failed;
    private int _disposed;

    private DebugEngine(AsyncDebugOptions options, TaskTracking tracking, TextWriter output, StepSourceKind stepSource)
    {
        var time = options.TimeProvider ?? TimeProvider.System;
        var settings = new DetectionSettings(options);
        var registry = tracking.Registry;
        _tracking = tracking;
        _registry = registry;
        registry.EndsSeen = true;
        // A box whose creation record is gone has completed (records go at TraceOperationEnd): it must not be kept.
        tracking.Keep = (id, task) => BoxInfo.Of(task) is null ? !task.IsCompleted : _table.Find(id) is not null;
        var sites = new CreationSites(registry.Find);
        Inventory = new TaskInventory(tracking, id => _table.Find(id), sites);
        _writer = new ReportWriter(output, OutputName(options, output), options.Format, options.OnReport, new ReportBuilder(sites), time);
        var stalls = new Stalls();
        _steps = new SlowSteps(settings, _writer, time, registry.Find, stalls);
        _waits = new BlockingWaits(settings, _writer, registry, time);
        _faults = new UnobservedExceptions(settings, _writer, registry, time);
        _voids = new AsyncVoidCrashes(_writer, registry, time);
        _lost = new LostExceptions(_writer, registry, time);
        _cleanups = new CancelledCleanups(_writer, time);
        var collected = new PendingCollected(_writer, registry, _table, time, tracking.Sweep);
        _collected = collected;
        _watchdog = new Watchdog(settings, _steps, _waits, _faults, collected, stalls, Fail);
        HungTicks = settings.HungTicks;
        AppDomain.CurrentDomain.FirstChanceException += OnFirstChanceException;
        TaskScheduler.UnobservedTaskException += _faults.OnUnobservedTaskException;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
        StartPrelude();
        _stalls = stalls;
        RegistryWaits.Watch(registry.RuntimeLock);
        _runtimeEvents = new RuntimeEvents(stalls.OnSuspension, collected.OnInduced);
        _stepSource = stepSource;
        // On the async events alone, no TPL event at all: the TPL source switched on costs as much as they do.
        _listener = stepSource == StepSourceKind.AsyncEventsOnly ? null : TplListener.Start(this);
        if (stepSource is StepSourceKind.AsyncEvents or StepSourceKind.AsyncEventsOnly)
        {
            _steps.Registry = registry;
            _steps.FindRecord = _table.Find;
            _waits.FindRecord = _table.Find;
            _eventSteps = new Tracking.AsyncEvents.EventSteps(settings.SlowTicks, waitForStop: _listener is null, _steps.OnEventStep);
            _steps.Events = _eventSteps;
            _steps.EventsAlone = _listener is null;
            // Async Main's first step ends unseen on the events alone: its thread's parks say where (SlowSteps).
            if (_listener is null && ThreadTracker.Current is { Top.Kind: FrameKind.Prelude } main)
                _eventSteps.WatchContextsCreatedOn((ulong)main.OsThreadId);
            ThreadTracker.KeepsSchedHistory = true;
            System.Runtime.Loader.AssemblyLoadContext.Default.Unloading += OnUnloading;
        }
        _endpoints = RequestEndpoints.Start(OnEndpointMatched, OnHubMethodEnd, OnHandlerStart, OnHandlerEnd, _listener is null ? (OnHostedRequestStart, OnHostedRequestStop) : null);
        WatchContextEntries();
    }

    /// <summary>Pending tasks, with the ages and creation sites debug mode recorded.</summary>
    public TaskInventory Inventory { get; }

    /// <summary>How long a step runs before debug mode calls it hung (its hung-step report; the console's threads and top).</summary>
    public long HungTicks { get; }

    public static DebugEngine Start(AsyncDebugOptions options, TaskTracking tracking, TextWriter output, StepSourceKind stepSource) =>
        new(options, tracking, output, stepSource);

    public void OnOperationBegin(int taskId, string operationName, long now)
    {
        TaskOrigin origin;
        if (operationName.StartsWith("Async: ", StringComparison.Ordinal))
            origin = TaskOrigin.AsyncMethod;
        else if (operationName.StartsWith("Task: ", StringComparison.Ordinal))
            origin = TaskOrigin.Delegate;
        else if (string.Equals(operationName, RuntimeAsyncLayout.OperationName, StringComparison.Ordinal))
        {
            // Known only so its dispatches are judged as steps (OnWorkBegin); not a creation of the user's to link.
            _table.Add(new TaskRecord(taskId, TaskOrigin.RuntimeAsync, now, Tracker(now).ThreadId, null, null));
            return;
        }
        else
            return;
        var tracker = Tracker(now);
        var frame = tracker.Top;
        var creator = frame is { Kind: FrameKind.AsyncStep or FrameKind.Delegate } ? frame : null;
        // Without step frames (the async events give the steps), a delegate task running on the thread is the creator.
        var running = creator is null && _stepSource == StepSourceKind.AsyncEvents ? TaskInternals.Current() : null;
        var runningCode = running is null ? null : TaskInternals.Action(running)?.Method;
        var sample = _samples.For(creator?.CreatorCode ?? runningCode ?? CreatedCode(taskId, frame), creator?.ResumedState ?? 0, operationName, frame?.RunningEndpoint);
        var record = runningCode is null
            ? new TaskRecord(taskId, origin, now, tracker.ThreadId, creator, sample)
            : new TaskRecord(taskId, origin, now, tracker.ThreadId, runningCode, running!.Id, _table.Find(running.Id), sample);
        tracker.Created(frame, record);
        if (frame is { Kind: FrameKind.Request })
            frame.LastCreation = now;
        _table.Add(record);
        if (_stepSource == StepSourceKind.AsyncEvents && origin == TaskOrigin.AsyncMethod)
            tracker.Notes.AddCreated(record);
    }

    /// <summary>
    /// The TPL keywords: all of debug mode's, or, when the runtime's async events give the steps
    /// (<see cref="StepSourceKind.AsyncEvents"/>), all but the step brackets (TraceSynchronousWork).
    /// </summary>
    public System.Diagnostics.Tracing.EventKeywords Keywords =>
        _stepSource == StepSourceKind.AsyncEvents ? TplListener.Keywords & ~TplListener.SynchronousWorkKeyword : TplListener.Keywords;

    public void OnOperationEnd(int taskId, int status, long now)
    {
        // The record goes last: while it is in the table the sweeper keeps the box (TaskTracking.Keep), so the task is
        // still found below. (Removed first, a sweep in between dropped a faulted Task.Run lambda's box from both
        // registries: its unobserved exception was then reported only by the GC, with no creation site.)
        var record = _table.Find(taskId);
        try
        {
            OnOperationEnd(taskId, status, record, now);
        }
        finally
        {
            _table.Remove(taskId);
            _registry.Completed(taskId);
        }
    }

    private void OnOperationEnd(int taskId, int status, TaskRecord? record, long now)
    {
        if (_stepSource == StepSourceKind.AsyncEvents && record?.Origin == TaskOrigin.AsyncMethod)
            Note(taskId, record, AsyncState.Done, now);
        if (Tracker(now).Top is { Kind: FrameKind.AsyncStep } step && step.TaskId == taskId)
            step.Completed(now);
        _waits.OnTaskCompleted(taskId, now);
        // The console's history: before the task completes, while its awaiters still hang from it (the runtime raises this
        // event first), and the step that ends it is still this thread's.
        if (_registry.Ending is { } ending && record?.Origin == TaskOrigin.AsyncMethod && _registry.Find(taskId) is { } ended)
            ending(ended, Tracker(now).Top is { Kind: FrameKind.AsyncStep } last && last.TaskId == taskId ? last.ResumedState : AsyncState.Unknown, record, now, status == StatusCompleted);
        if (status == StatusError && !_voids.OnFaulted(taskId, record, UnobservedExceptions.LastThrown))
        {
            _lost.OnFaulted(taskId, record);
            _faults.OnFaulted(taskId, record, now);
        }
    }

    public void OnWorkBegin(int taskId, int work, long now)
    {
        var tracker = Tracker(now);
        var frame = tracker.Push();
        if (work != ExecutionWork)
        {
            frame.Enter(taskId, FrameKind.Notification, now, null, null, null, AsyncState.Unknown, null);
            return;
        }
        var record = _table.Find(taskId);
        if (record?.Origin == TaskOrigin.AsyncMethod && _registry.Find(taskId) is { } task && BoxInfo.Of(task) is { } box)
        {
            var resumed = box.ReadState(task);
            // Its first resume: the await its first step parked at, for the step that ran that first step, judged maybe
            // after the method completed and left the registry (SlowSteps.FirstSteps).
            if (record.Box is null && AsyncState.IsParked(resumed))
                record.ParkedState = resumed;
            record.Box = box;
            frame.Enter(taskId, FrameKind.AsyncStep, now, task, box, null, resumed, record);
            frame.Measure(tracker.TimesBaseline(now));
            return;
        }
        if (record?.Origin == TaskOrigin.RuntimeAsync)
        {
            // A dispatch of a runtime-async chain (.NET 11's BCL: Kestrel's request loop, Parallel.ForEachAsync's workers):
            // a step of methods with no box, in which the user's code they call runs its first step. Judged as a step.
            frame.Enter(taskId, FrameKind.AsyncStep, now, _registry.Find(taskId), null, null, AsyncState.Unknown, record);
            frame.Measure(tracker.TimesBaseline(now));
            return;
        }
        var delegateTask = record?.Origin == TaskOrigin.Delegate ? _registry.Find(taskId) : null;
        var code = delegateTask is null ? null : TaskInternals.Action(delegateTask)?.Method;
        frame.Enter(taskId, FrameKind.Delegate, now, delegateTask, null, code, AsyncState.Unknown, record);
        frame.Measure(tracker.TimesBaseline(now));
    }

    public void OnWorkEnd(long now)
    {
        var tracker = Tracker(now);
        // A request the step ran (see OnRequestStart) whose handler parked: what ran of it is over.
        if (tracker.Top is { Kind: FrameKind.Request } request && tracker.Depth > 1)
        {
            _steps.OnRequestStretch(tracker, request, now);
            Drop(tracker, request, now);
        }
        if (tracker.Top is not { } frame)
            return;
        // Judged while still on the stack, so a process exit racing with this end sees it one way or the other.
        _steps.OnStepEnd(tracker, frame, now);
        if (frame is { Kind: FrameKind.AsyncStep, Record: { } busy })
        {
            busy.BusyTicks += Math.Max(0, now - frame.Start - frame.ChildTicks);
            busy.Steps++;
        }
        tracker.Pop();
        tracker.Top?.NestedEnded(frame, now, tracker);
        frame.Exit();
    }

    public void OnTaskWaitBegin(int taskId, int behavior, int continueWithTaskId, long now)
    {
        if (behavior == SynchronousWait)
        {
            var tracker = Tracker(now);
            if (tracker.Top is { Kind: FrameKind.Prelude } prelude)
            {
                _steps.OnPreludeEnd(tracker, prelude, _registry.Find(taskId), now);
                Drop(tracker, prelude, now);
            }
            EndWorkItem(tracker, now);
            if (tracker.Top is { } top)
                top.Waited = true;
            _waits.OnWaitBegin(tracker, taskId, now);
        }
        else if (continueWithTaskId != 0)
        {
            if (_table.Find(taskId) is { } record)
                record.AwaiterId = continueWithTaskId;
            if (_stepSource == StepSourceKind.AsyncEvents)
            {
                var awaiter = _table.Find(continueWithTaskId);
                if (_table.Find(taskId) is { } awaited)
                    awaited.Awaiter = awaiter;
                Note(continueWithTaskId, awaiter, AsyncState.Unknown, now);
            }
            if (Tracker(now).Top is { Kind: FrameKind.AsyncStep, Task: { } task, Box: { } box } step && step.TaskId == continueWithTaskId)
                step.StoppedState = box.ReadState(task);
        }
    }

    // An async method of this thread parked (state read from its box) or completed: the step the async events will
    // deliver later is matched to it (see ParkNotes).
    private void Note(int taskId, TaskRecord? record, int state, long now)
    {
        var task = _registry.Find(taskId);
        var box = task is null ? null : BoxInfo.Of(task);
        if (box is not null && state == AsyncState.Unknown)
            state = box.ReadState(task!);
        if (record is not null)
        {
            record.Box ??= box;
            if (state != AsyncState.Done)
                record.ParkedState = state;
        }
        ThreadTracker.Current.Notes.Add(now, taskId, record, box, state, RuntimeTime.JitOnThisThread);
    }

    public bool WatchesRequests => true;

    /// <summary>
    /// ASP.NET Core begins a request. Outside any step on a pool thread (the first request on a connection, run
    /// from a work item of Kestrel's), a request frame stands for the stretch no event brackets. Inside a step of the
    /// framework's (Kestrel's request loop, which runs the next request of a kept-alive connection in the same step
    /// when it has already arrived), one stands for the request's part of the step: each request is judged on its own.
    /// </summary>
    public void OnRequestStart(long now)
    {
        var tracker = Tracker(now);
        if (tracker.Top is { Kind: FrameKind.Request } previous)
        {
            _steps.OnRequestDropped(tracker, previous, now, standsForNothing: false);
            Drop(tracker, previous, now);
        }
        // Kestrel's request loop: a state machine's step on .NET 10, a runtime-async chain's (no box) on ASP.NET Core 11.
        if (InWorkItemOnly(tracker) || tracker.Top is { Kind: FrameKind.AsyncStep } step && step.Box is not { IsUserCode: true })
            StandIn(tracker, FrameKind.Request, now).WorkItem = WorkItems.CompletedOnThisThread();
    }

    /// <summary>ASP.NET Core finished a request: a request frame standing for its start is judged, and taken off.</summary>
    public void OnRequestStop(long now)
    {
        var tracker = Tracker(now);
        if (tracker.Top is { } top)
            EndRequest(tracker, top, now);
    }

    private void EndRequest(ThreadTracker tracker, Frame top, long now)
    {
        if (top.Endpoint is not null)
            top.RequestEndAt = now;
        if (top.Kind == FrameKind.Request)
        {
            _steps.OnRequestStretch(tracker, top, now);
            // Judged on its own, it is not the time of the step it ran in: with no step frame under it (the async events
            // bracket the steps) that step arrives later, and is measured without it (a handler ended here: its whole run).
            if (tracker.Depth == 1)
                tracker.Notes.AddApart(top.Start, now, request: true);
            Drop(tracker, top, now);
        }
    }

    // The calling thread's tracker. The thread raises an event: it runs, so a synchronous wait it began is over, and is
    // closed before anything is judged (a task completed without an event of its own, a TaskCompletionSource's as
    // StackExchange.Redis answers, closes its waits only so: judged open, a request's stretch counted its reported wait
    // as its own time, a slow-step beside the blocking-wait). A request frame on top is judged as soon as the boxes it
    // created are in the registry (the next event), and dropped once it stands for nothing (ThreadTracker.StandsForNothing;
    // the handler run `ending` now on this thread is judged by the caller, if its work item is still the one it began in).
    private ThreadTracker Tracker(long now, System.Diagnostics.Activity? ending = null)
    {
        var tracker = ThreadTracker.Current;
        _waits.OnThreadEvent(tracker, now);
        if (tracker.Top is { Kind: FrameKind.Request } request)
        {
            if (request.LastCreation > request.JudgedUpTo)
            {
                request.JudgedUpTo = request.LastCreation;
                _steps.OnRequestStretch(tracker, request, request.LastCreation, final: false);
            }
            if (tracker.StandsForNothing(request, ending))
            {
                // Judged waiting for its handler's box (OnRequestStretch), it is judged as it stands now.
                _steps.OnRequestStretch(tracker, request, request.LastCreation);
                _steps.OnRequestDropped(tracker, request, now, standsForNothing: true);
                Drop(tracker, request, DetectionSettings.Now);
            }
        }
        return tracker;
    }

    // A frame standing in for a stretch no event brackets (see FrameKind.Prelude, FrameKind.Request), pushed with
    // the baselines a step's frame gets; and taken off again, on its own thread, when that stretch is over.
    private static Frame StandIn(ThreadTracker tracker, FrameKind kind, long now)
    {
        var frame = tracker.Push();
        frame.Enter(0, kind, now, null, null, null, AsyncState.Unknown, null);
        frame.Measure(tracker.TimesBaseline(now));
        return frame;
    }

    // A request's part of a step is not the step's own time: it was judged on its own.
    private static void Drop(ThreadTracker tracker, Frame standIn, long now)
    {
        tracker.Pop();
        if (standIn.Kind == FrameKind.Request && tracker.Top is { } parent)
            parent.ChildTicks += now - standIn.Start;
        standIn.Exit();
    }

    // The thread switching debug mode on (with a startup hook: the main thread, before Main) runs code no event
    // brackets until it first blocks on a task: async Main's first step. A prelude frame stands for it.
    private static void StartPrelude()
    {
        var tracker = ThreadTracker.Current;
        if (ThreadTracker.IsEngineThread || tracker.Depth > 0)
            return;
        SlowSteps.PrepareForPrelude();
        StandIn(tracker, FrameKind.Prelude, DetectionSettings.Now);
    }
}
