using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Detection;

/// <summary>
/// On .NET 11's async events alone: the first step of an async method run by a delegate task, a thread-pool work item, a
/// timer's callback or a thread of the app's own (the TPL path's <see cref="FrameKind.Delegate"/> and
/// <see cref="FrameKind.WorkItem"/> frames, SlowSteps.Delegates.cs). No event brackets such a run here; but it runs in the
/// execution context captured where it was queued, whose entry and exit on its thread debug mode is told of
/// (<see cref="ContextEntries"/>, <see cref="ThreadTracker.EnteredAt"/>): a resumed step enters it too, so the entry alone
/// says nothing. What does, later: a box that parks with no context running on its thread (a resumed step's park has its
/// context as parent) creates a state-machine context there at the park, and that context's first resume names the box's
/// method and the await it parked at. A run at least the slow threshold long is held until its thread's events are
/// delivered, then judged from those parks as the TPL path judges a delegate task's run from the boxes it created.
/// </summary>
internal sealed partial class SlowSteps
{
    private readonly List<(ulong Method, int State)> _parkChain = [];

    // A slow run as its thread left it: its bounds, its thread's own compilation in it and scheduler figures at its bounds
    // (at its start as the thread last read them, up to 10 ms before: ThreadTracker.Baseline), and the running task's
    // delegate (a delegate task's run is still it here; the task lets go of it once run).
    private sealed record LeftRun(long Start, long End, long ThreadJit, SchedTimes StartTimes, SchedTimes EndTimes, Delegate? Delegate);

    /// <summary>
    /// The thread leaves the app's context it entered at <see cref="ThreadTracker.EnteredAt"/>: a slow run is noted on the
    /// thread for the watchdog to hold (the delegate's method read there). In the common case (a run well below the
    /// threshold: every await resumed on the pool) only the tick clock is read (<see cref="DetectionSettings.RoughNow"/>);
    /// the precise clock, the compilation counter and the scheduler figures only for a run that may be slow.
    /// </summary>
    public void OnEnteredRunLeft(ThreadTracker tracker)
    {
        var start = tracker.EnteredAt;
        tracker.EnteredAt = 0;
        if (tracker.Depth != 0 || DetectionSettings.RoughNow - start < settings.SlowTicks - DetectionSettings.RoughError)
            return;
        var now = DetectionSettings.Now;
        if (now - start >= settings.SlowTicks && tracker.EnteredBaseline is { } entered)
            Volatile.Write(ref tracker.LeftRun, new LeftRun(start, now, RuntimeTime.JitOnThisThread - entered.Jit, entered.Times, tracker.OwnTimes(),
                TaskInternals.Current() is { } task ? TaskInternals.Action(task) : null));
    }

    /// <summary>Compiles ahead what <see cref="OnEnteredRunLeft"/> runs for a slow run (the running task's getter is made by reflection).</summary>
    public void PrepareEnteredRuns()
    {
        _ = TaskInternals.Current() is { } task ? TaskInternals.Action(task) : null;
        _ = TaskInternals.Action(Task.CompletedTask);
        _ = new LeftRun(0, 0, 0, SchedTimes.Unavailable, SchedTimes.Unavailable, null);
    }

    // Watchdog tick (and exit): the slow runs threads left are held. A run is taken only once its thread left it (a thread
    // of the app's own leaves it as it ends): taken early at a tick, from its parks so far, a run let Bugs `slow` alone lose
    // its step's report in 2 runs of 6 (not understood; none in 6 without).
    private void WatchEnteredRuns()
    {
        if (!EventsAlone)
            return;
        DetectionSettings.Calibrate();
        foreach (var tracker in ThreadTracker.All)
        {
            if (Interlocked.Exchange(ref tracker.LeftRun, null) is LeftRun left)
            {
                Hold(tracker, left.Start, left.End, bounded: true, endpoint: null, endpointAt: 0, left.ThreadJit, left.Delegate?.Method, (left.StartTimes, left.EndTimes));
            }
        }
    }

    // The run from its entry to its end, with the boxes that parked in it outside any context (_created, oldest first) as
    // its first steps, each after the gap since the one before: judged as a delegate task's run (JudgeFirstStepsOnly), with
    // no task records, and the delegate's code only where the run was a delegate task's. False, unless `final`, while a
    // box's first resume is still to come.
    private bool JudgeEnteredRun(EventSteps events, ParkedStretch run, bool final)
    {
        var firstSteps = new List<FirstStep>();
        var previous = run.Start;
        foreach (var (context, at) in _created)
        {
            _parkChain.Clear();
            if (!events.FirstResumeChain(context, at, _parkChain) && !final)
                return false;
            // The park's boxes, innermost first as the TPL events see them made: the gap before it is theirs together.
            for (var i = 0; i < _parkChain.Count; i++)
            {
                if (EventSteps.StateMachineOf(_parkChain[i].Method) is { } stateMachine && Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
                    firstSteps.Add(new FirstStep(null, stateMachine, _parkChain[i].State, i == 0 ? at - previous : 0));
            }
            previous = at;
        }
        if (firstSteps.Count == 0 || EnteredRunTime(run) is not var (own, split, processJit))
            return true;
        var evidence = new StretchEvidence(null, -1, AsyncState.Unknown, DetectionSettings.Seconds(own), Ongoing: false)
        {
            FirstSteps = firstSteps,
            WarmUp = run.ThreadJit >= 0 && run.ThreadJit * 10 >= run.Until - run.Start,
            ProcessJitTicks = run.ThreadJit >= 0 ? 0 : processJit,
            FromTicks = run.Start,
            ToTicks = run.Until,
            Time = split,
            DelegateRun = true,
            DelegateCode = OwnSynchronousCode(run.Delegate),
        };
        sink.Add(new StepFinding(0, time.GetUtcNow(), run.Tracker.ThreadId, LongestFirstStep(firstSteps), null, evidence));
        return true;
    }

    // Its time as the TPL path measures a frame's where its thread read its own scheduler figures at both bounds (waits for
    // a CPU taken off: interpolated between the watchdog's samples, a 0.3 s sleep read 0.245 s at load 40); else from the
    // samples, as the events' steps. Its thread's own compilation, read by the thread as it left, is what may not count as
    // its time (the whole process's otherwise: the watchdog's judging compiled 0.2 s during a 0.3 s sleep, not counted as
    // AsyncLens's own).
    private (long Own, TimeSplit Split, long ProcessJit)? EnteredRunTime(ParkedStretch run)
    {
        var step = new AsyncStep((ulong)run.Tracker.OsThreadId, 0, 0, -1, run.Start, run.Until, AsyncStepEnd.Left);
        if (run.Times is not ({ OnCpu: >= 0, Waited: >= 0 } from, { OnCpu: >= 0, Waited: >= 0 } to))
            return EventStepTime(step, run.Tracker, frameworks: false, run.ThreadJit);
        var wall = run.Until - run.Start;
        var preempted = Math.Clamp(to.Waited - from.Waited, 0, wall);
        var onCpu = Math.Clamp(to.OnCpu - from.OnCpu, 0, wall - preempted);
        var own = wall - preempted;
        var compiled = wall > 0 ? (long)(Math.Max(0, run.ThreadJit) * ((double)own / wall)) : 0;
        return own - compiled - stalls.During(run.Start, run.Until, 0) < settings.SlowTicks
            ? null
            : (own, new TimeSplit(onCpu, Math.Max(0, wall - preempted - onCpu)), 0);
    }
}
