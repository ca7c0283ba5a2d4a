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
    private readonly List<(ulong Context, long At)> _enteredParks = [];
    private readonly List<(ulong Method, int State)> _parkChain = [];

    /// <summary>
    /// The thread leaves the app's context it entered at <see cref="ThreadTracker.EnteredAt"/>: held when slow, and not
    /// claimed by the watchdog. A delegate task's run is still the running task here: its delegate is read (slow runs only).
    /// </summary>
    public void OnEnteredRunLeft(ThreadTracker tracker, long now)
    {
        var start = tracker.EnteredAt;
        if (tracker.Depth == 0 && now - start >= settings.SlowTicks && Interlocked.CompareExchange(ref tracker.EnteredAt, 0, start) == start)
        {
            var run = TaskInternals.Current() is { } task ? TaskInternals.Action(task)?.Method : null;
            Hold(tracker, start, now, bounded: true, endpoint: null, endpointAt: 0, RuntimeTime.JitOnThisThread - tracker.EnteredJit, run,
                (tracker.EnteredTimes, tracker.OwnTimes()));
        }
        else
            tracker.EnteredAt = 0;
    }

    // Watchdog tick: a run still going (a thread of the app's own blocked on the method it called) that parked outside any
    // context already is held up to its last park so far, the thread's first steps being over by then.
    private void WatchEnteredRuns(EventSteps events, long now)
    {
        if (!EventsAlone)
            return;
        foreach (var tracker in ThreadTracker.All)
        {
            var start = Volatile.Read(ref tracker.EnteredAt);
            if (start == 0 || now - start < settings.SlowTicks)
                continue;
            _enteredParks.Clear();
            events.ContextsCreated((ulong)tracker.OsThreadId, start, now, _enteredParks, outsideOnly: true);
            if (_enteredParks.Count > 0 && Interlocked.CompareExchange(ref tracker.EnteredAt, 0, start) == start)
                Hold(tracker, start, _enteredParks[^1].At, bounded: true, endpoint: null, endpointAt: 0);
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
