using System.Collections.Concurrent;
using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Detection;

/// <summary>
/// slow-step from .NET 11's async events (<see cref="StepSourceKind.AsyncEvents"/>): a step's bounds are exact (the
/// runtime stamps each event as it is written), but it arrives up to ~1.25 s after it ended, in a batch. It is judged
/// then, on the watchdog's thread, from what is still known: its method (from the runtime's method id), where it
/// resumed (the state in its context's stack) and, from the TPL events kept for tasks (<see cref="ParkNotes"/>), its
/// task, creation record and where it stopped. Not known that late, so not taken off its time: JIT compilation, waits for
/// a CPU, AsyncLens's own time on the thread; nor how its time split (on a CPU or blocked), nor the boxes it created.
/// </summary>
internal sealed partial class SlowSteps
{
    // A park or completion note is written about when the step's last event is, on another clock (the TPL events'
    // DateTime stamps; the async events' Stopwatch stamps converted through a pairing of the two): the note nearest the
    // step's end of the right kind, within a millisecond before its start and 20 ms after its end.
    private const long NoteSlackBefore = TimeSpan.TicksPerMillisecond;
    private const long NoteSlackAfter = 20 * TimeSpan.TicksPerMillisecond;

    private readonly ConcurrentQueue<SlowEventStep> _eventSteps = new();
    private readonly List<AsyncStep> _openSteps = [];

    // Per OS thread, the start of the step last reported hung (one report per hang).
    private readonly Dictionary<ulong, long> _hungSteps = [];

    // Scheduler samples of threads running a step that have no tracker (they raised no TPL event yet).
    private readonly Dictionary<ulong, SchedHistory> _untracked = [];

    // Each sampled thread's schedstat, kept open from tick to tick (under _openSteps' lock, as the samples).
    private readonly SchedReaders _sched = new();

    // The process's compilation time (RuntimeTime.JitInProcess), sampled at each tick, kept as a history's "on a CPU"
    // figure: what the process compiled while a step ran, which the TPL path reads at the step's bounds (warm-up).
    private readonly SchedHistory _processJit = new();
    private readonly List<ulong> _threads = [];
    private ulong[] _processThreads = [];
    private long _processThreadsAt;

    /// <summary>The async events' steps, when debug mode takes its steps from them (set once, before the first tick).</summary>
    public EventSteps? Events { get; set; }

    /// <summary>The runtime's registry of active tasks: the box of a step still running is found in it.</summary>
    public TaskRegistry? Registry { get; set; }

    /// <summary>A task's creation record, by id (debug mode's table).</summary>
    public Func<int, TaskRecord?> FindRecord { get; set; } = static _ => null;

    /// <summary>A step at least the threshold long, on the thread that delivered its buffer: judged at the next tick.</summary>
    public void OnEventStep(SlowEventStep step) => _eventSteps.Enqueue(step);

    /// <summary>
    /// The async events are debug mode's only source (<see cref="StepSourceKind.AsyncEventsOnly"/>): a step's callers come
    /// from its context's stack, where it parked from its method's next resume (<see cref="SlowEventStep"/>).
    /// </summary>
    public bool EventsAlone { get; set; }

    /// <summary>
    /// Watchdog tick (and exit, <paramref name="all"/>): judges the steps the async events delivered since the last one,
    /// and the request stretches held for them (<see cref="OnRequestDropped"/>) that are due.
    /// </summary>
    public void JudgeEventSteps(long now, bool all = false)
    {
        if (Events is null)
            return;
        // The watchdog and, at exit, the exiting thread: one at a time (the samples and the queue's order are theirs).
        lock (_openSteps)
            JudgeQueued(now, all);
    }

    private void JudgeQueued(long now, bool all)
    {
        // Sampled before the steps are judged: a step that ended after the last tick is measured up to now.
        foreach (var tracker in ThreadTracker.All)
            (tracker.Sched ??= new SchedHistory()).Add(now, _sched.Times(tracker.OsThreadId, alive: true));
        _processJit.Add(now, new SchedTimes(RuntimeTime.JitInProcess, 0, 0));
        if (EventsAlone)
        {
            SampleAsyncThreads(now);
            if (all)
                WatchEnteredRuns();
            // Before the steps: a framework's step that ran a held stretch has it taken off (ParkNotes.AddApart).
            JudgeParked(Events!, now, all);
        }
        if (_eventSteps.IsEmpty)
            return;
        stalls.CatchUp(now);
        while (_eventSteps.TryDequeue(out var step))
            JudgeEventStep(step);
    }

    /// <summary>
    /// Watchdog tick: judges the steps delivered since the last one, then looks for a step still running past the hung
    /// threshold. The buffers delivered so far may be behind (a thread's buffer goes once it has written nothing for
    /// 250 ms, from a timer that runs every second): a step that looks hung has every buffer delivered first, and is
    /// reported only if it is still open then.
    /// </summary>
    private void TickEvents(long now)
    {
        if (Events is not { } events)
            return;
        lock (_openSteps)
            TickEvents(events, now);
    }

    private void TickEvents(EventSteps events, long now)
    {
        events.Expire(now, all: false);
        WatchRequestFrames(now);
        WatchEnteredRuns();
        if (EventsAlone && ParkedDue(now))
            events.Flush();
        JudgeEventSteps(now);
        if (!HungCandidates(events, now))
            return;
        events.Flush();
        JudgeEventSteps(now);
        if (!HungCandidates(events, now))
            return;
        foreach (var step in _openSteps)
        {
            if (now - step.Start < settings.HungTicks || _hungSteps.TryGetValue(step.OsThreadId, out var reported) && reported == step.Start)
                continue;
            _hungSteps[step.OsThreadId] = step.Start;
            ReportHung(step, now);
        }
    }

    private bool HungCandidates(EventSteps events, long now)
    {
        _openSteps.Clear();
        events.OpenSteps(_openSteps);
        foreach (var step in _openSteps)
        {
            if (!EventsAlone && TrackerOf(step.OsThreadId) is null) // on the events alone every thread was sampled this tick
            {
                if (!_untracked.TryGetValue(step.OsThreadId, out var history))
                {
                    if (_untracked.Count >= 256)
                        _untracked.Clear(); // threads come and go: a bound, not a cache
                    _untracked[step.OsThreadId] = history = new SchedHistory();
                }
                history.Add(now, RunQueue.Times((int)step.OsThreadId));
            }
        }
        foreach (var step in _openSteps)
        {
            if (now - step.Start >= settings.HungTicks && !(_hungSteps.TryGetValue(step.OsThreadId, out var reported) && reported == step.Start))
                return true;
        }
        return false;
    }

    private void ReportHung(in AsyncStep step, long now)
    {
        if (EventSteps.StateMachineOf(step.MethodId) is not { } stateMachine || !Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
            return;
        var tracker = TrackerOf(step.OsThreadId);
        if (tracker?.Wait is { IsOpen: true })
            return; // a blocking wait, reported as such
        var wall = now - step.Start - (tracker?.Notes.ApartWithin(step.Start, now, requests: !Symbols.CodeOrigin.IsAppCode(stateMachine.Assembly)) ?? 0);
        var (split, preempted) = SplitOf(HistoryOf(tracker, step.OsThreadId), step.Start, now, wall);
        var own = wall - preempted;
        if (own - stalls.During(step.Start, now, 0) < settings.HungTicks)
            return;
        var task = Registry?.RunningBox(stateMachine);
        var stack = task is null ? RawAsyncStack.Empty : RawAsyncStack.Capture(task, step.ResumedState);
        var evidence = new StretchEvidence(stateMachine, step.ResumedState, AsyncState.Unknown, DetectionSettings.Seconds(own), Ongoing: true)
        {
            TaskId = task?.Id ?? 0,
            Time = split,
        };
        sink.Add(new StepFinding(task?.Id ?? 0, time.GetUtcNow(), tracker?.ThreadId ?? 0, stack, task is null ? null : FindRecord(task.Id), evidence));
    }

    // The user's async methods whose first step ran inside this one: the boxes created on its thread while it ran, each
    // with the await it parked at, as its record remembers (its task has usually completed by now).
    private List<FirstStep> FirstStepsWithin(ThreadTracker tracker, long start, long end)
    {
        var found = new List<FirstStep>();
        var previous = start;
        foreach (var record in tracker.Notes.CreatedWithin(start, end))
        {
            var task = record.Box is null || record.ParkedState == AsyncState.Unknown ? findTask(record.Id) : null;
            var box = record.Box ?? (task is null ? null : BoxInfo.Of(task));
            var state = record.ParkedState != AsyncState.Unknown ? record.ParkedState : task is null ? AsyncState.Unknown : BoxInfo.ReadStateOnce(task);
            if (box is not null && Symbols.CodeOrigin.IsUserCode(box.StateMachineType.Assembly))
                found.Add(new FirstStep(record, box.StateMachineType, state, record.Created - previous));
            previous = record.Created;
        }
        return found;
    }

    // How a step's time split, and how long its thread waited for a CPU in it, from the watchdog's samples of the
    // thread's figures around its bounds. A thread first sampled after the step began (its first TPL event came in the
    // step) is taken to have waited and computed as often before its first sample as after it, if sampled for half of it.
    private SchedHistory? HistoryOf(ThreadTracker? tracker, ulong osThreadId) =>
        tracker?.Sched ?? (_untracked.TryGetValue(osThreadId, out var history) ? history : null);

    private static (TimeSplit Split, long Preempted) SplitOf(SchedHistory? history, long start, long end, long wall)
    {
        if (history is not { } sched || sched.At(end) is not { OnCpu: >= 0 } to)
            return (TimeSplit.Unknown, 0);
        var (fromAt, from) = sched.At(start) is { OnCpu: >= 0 } exact ? (start, exact) : sched.Oldest();
        if (from.OnCpu < 0 || fromAt >= end)
            return (TimeSplit.Unknown, 0);
        // Extrapolated only from at least half the step: a few milliseconds sampled at its end (a thread's first event
        // there) hold its wake-up from a sleep, not a rate; less than that counts what was seen, unscaled.
        var scale = (end - fromAt) * 2 >= end - start ? (double)(end - start) / (end - fromAt) : 1;
        var preempted = Math.Clamp((long)((to.Waited - from.Waited) * scale), 0, wall);
        var onCpu = Math.Clamp((long)((to.OnCpu - from.OnCpu) * scale), 0, wall - preempted);
        return (new TimeSplit(onCpu, Math.Max(0, wall - preempted - onCpu)), preempted);
    }

    // The stack of a step whose chain has moved on: its own frame, then the methods that awaited it, as their records
    // remember them (each with the await it parked at).
    private static RawAsyncStack Remembered(TaskRecord? record, RawFrame leaf)
    {
        var frames = new List<RawFrame> { leaf };
        for (var caller = record?.Awaiter; caller is { Box: { } box } && frames.Count < 64; caller = caller.Awaiter)
            frames.Add(new RawFrame(caller.Id, box, caller.ParkedState, null, null));
        return RawAsyncStack.Of(frames);
    }

    // The stack of a step as its context's stack gave it when it resumed: its own frame, then its callers parked at their
    // awaits; a runtime-async caller (the BCL's on .NET 11) by its method's name alone, the runtime's own continuations left out.
    private static RawAsyncStack FromEvents(SlowEventStep slow, RawFrame leaf) => StackOf(slow.CallerMethods, slow.CallerStates, leaf);

    // A stack of the events' (leaf first: method ids, and the awaits state machines are parked at) as frames, after `leaf`.
    private static RawAsyncStack StackOf(ulong[] methods, int[] states, RawFrame? leaf = null)
    {
        var frames = new List<RawFrame>();
        if (leaf is { } first)
            frames.Add(first);
        for (var i = 0; i < methods.Length && frames.Count < 64; i++)
        {
            var id = methods[i];
            if (EventSteps.StateMachineOf(id) is { } caller && BoxInfo.OfStateMachine(caller) is { } box)
                frames.Add(new RawFrame(0, box, states[i], null, null));
            else if (id != 0 && RuntimeAsyncChains.MethodAt((nint)id).Method is System.Reflection.MethodInfo method)
                frames.Add(new RawFrame(0, null, AsyncState.Unknown, null, method));
        }
        return RawAsyncStack.Of(frames);
    }

    // With no TPL event, no thread has a tracker: the threads that ran async code (as the events name them) are sampled
    // instead, so that a step's waits for a CPU are known as on the other paths; and, since a thread's events arrive
    // after its first steps ran, every thread of the process, listed once a second (at most 128 of them).
    private void SampleAsyncThreads(long now)
    {
        _threads.Clear();
        Events!.Threads(_threads);
        if (now - _processThreadsAt >= TimeSpan.TicksPerSecond)
        {
            (_processThreads, _processThreadsAt) = (ProcessThreads(), now);
            _sched.KeepOnly(_processThreads);
        }
        foreach (var osThreadId in _processThreads)
        {
            if (!_threads.Contains(osThreadId))
                _threads.Add(osThreadId);
        }
        if (_untracked.Count > 256)
            _untracked.Clear(); // threads come and go: a bound, not a cache
        foreach (var osThreadId in _threads)
        {
            if (!_untracked.TryGetValue(osThreadId, out var history))
                _untracked[osThreadId] = history = new SchedHistory();
            history.Add(now, _sched.Times((int)osThreadId));
        }
    }

    private static ulong[] ProcessThreads()
    {
        try
        {
            return [.. Directory.GetDirectories("/proc/self/task").Select(d => ulong.TryParse(Path.GetFileName(d), out var id) ? id : 0).Where(id => id != 0).Take(128)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    // The user's async methods the step's method was awaiting when it was resumed again, each at the await it parked at.
    private static List<(Type, int)> ParkedBelow(SlowEventStep slow)
    {
        var parked = new List<(Type, int)>();
        for (var i = 0; i < slow.CalleeMethods.Length; i++)
        {
            if (EventSteps.StateMachineOf(slow.CalleeMethods[i]) is { } callee)
                parked.Add((callee, slow.CalleeStates[i]));
        }
        return parked;
    }

    // What the process compiled between two moments, from the samples around them (from the first sample, for a step
    // that began before it): 0 when the samples do not reach the end.
    private long ProcessJitWithin(long start, long end)
    {
        if (_processJit.At(end) is not { OnCpu: >= 0 } to)
            return 0;
        var from = _processJit.At(start) is { OnCpu: >= 0 } exact ? exact : _processJit.Oldest().Times;
        return from.OnCpu < 0 ? 0 : Math.Max(0, to.OnCpu - from.OnCpu);
    }

    // A step's own time (waits for a CPU and what was judged apart taken off: requests run inside it only for a step of
    // the framework's, or a package's), how it split, and what the process compiled meanwhile; null when it is not slow
    // without the process's compilation (its thread's own, `threadJit`, where its thread read it) and its stalls.
    private (long Own, TimeSplit Split, long ProcessJit)? EventStepTime(in AsyncStep step, ThreadTracker? tracker, bool frameworks, long threadJit = -1)
    {
        var wall = step.End - step.Start - (tracker?.Notes.ApartWithin(step.Start, step.End, requests: frameworks) ?? 0);
        var (split, preempted) = SplitOf(HistoryOf(tracker, step.OsThreadId), step.Start, step.End, wall);
        var own = wall - preempted;
        var processJit = ProcessJitWithin(step.Start, step.End);
        // With the async events alone no thread's own compilation is known (the runtime gives it only to the thread
        // itself): the whole process's, AsyncLens's own taken off, an upper bound, is not the step's own time when
        // deciding it was slow (a first request's or a first query's code compiled on several threads at once). It is
        // timed on the wall clock, waits for a CPU included: counted for the share of the step not spent waiting for one.
        // The time reported stays the step's.
        var compiled = threadJit >= 0 && wall > 0 ? (long)(threadJit * ((double)own / wall))
            : EventsAlone && wall > 0 ? (long)(Math.Max(0, processJit - EngineCompilation.During(step.Start, step.End)) * ((double)own / wall))
            : 0;
        return own - compiled - stalls.During(step.Start, step.End, 0) < settings.SlowTicks ? null : (own, split, processJit);
    }

    private static ThreadTracker? TrackerOf(ulong osThreadId)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            if ((ulong)tracker.OsThreadId == osThreadId)
                return tracker;
        }
        return null;
    }

    private void JudgeEventStep(SlowEventStep slow)
    {
        var step = slow.Step;
        if (EventSteps.StateMachineOf(step.MethodId) is not { } stateMachine || !Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
        {
            if (slow.Children is not null)
                JudgeRuntimeAsyncEventStep(slow);
            return;
        }
        var tracker = TrackerOf(step.OsThreadId);
        var note = tracker?.Notes.Nearest(stateMachine, step.Start - NoteSlackBefore, step.End + NoteSlackAfter, step.End, step.How == AsyncStepEnd.Completed);
        if (EventStepTime(step, tracker, frameworks: !Symbols.CodeOrigin.IsAppCode(stateMachine.Assembly)) is not var (own, split, processJit))
            return;
        // Its thread's compiling, bounded by its notes, judges warm-up as CompiledMuch does on the TPL path (ShopApi's first
        // /orders/1 read as computing from the process's figure). Not taken off its time: docs/async-events.md.
        var threadJit = tracker?.Notes.JitWithin(step.Start, step.End + NoteSlackAfter) ?? -1;
        var stopped = step.How == AsyncStepEnd.Completed ? AsyncState.Done : note?.State ?? slow.StoppedState;
        var taskId = note?.TaskId ?? 0;
        var stack = RawAsyncStack.Empty;
        if (note is { } n && findTask(n.TaskId) is { } task && !task.IsCompleted)
            stack = RawAsyncStack.Capture(task, step.ResumedState);
        else if (note?.Box is { } box)
            stack = Remembered(note.Value.Record, new RawFrame(taskId, box, step.ResumedState, null, null));
        else if (EventsAlone && BoxInfo.OfStateMachine(stateMachine) is { } ownBox)
            stack = FromEvents(slow, new RawFrame(0, ownBox, step.ResumedState, null, null));
        var evidence = new StretchEvidence(stateMachine, step.ResumedState, stopped, DetectionSettings.Seconds(own), Ongoing: false)
        {
            TaskId = taskId,
            FromTicks = step.Start,
            ToTicks = step.End,
            Time = split,
            ProcessJitTicks = processJit,
            WarmUp = threadJit >= 0 && threadJit * 10 >= step.End - step.Start,
            ParkedBelow = ParkedBelow(slow),
            FirstSteps = tracker is null ? [] : FirstStepsWithin(tracker, step.Start, step.End),
        };
        sink.Add(new StepFinding(taskId, time.GetUtcNow(), tracker?.ThreadId ?? 0, stack, note?.Record, evidence));
    }
}
