using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Detection;

/// <summary>
/// .NET 11: a dispatch of a runtime-async chain (the BCL's methods compiled with runtime async: Kestrel's request loop,
/// <c>Parallel.ForEachAsync</c>'s workers). Its methods have no box, so the step has no code of its own to read; what
/// it can be blamed on is the user's code it ran: an async method of the user's whose first step ran inside it (its
/// box created after a gap holding most of the step), as in a framework state machine's step on .NET 10.
/// </summary>
internal sealed partial class SlowSteps
{
    private void OnRuntimeAsyncStepEnd(ThreadTracker tracker, Frame frame, long now) => JudgeFirstStepsOnly(tracker, frame, now, delegateRun: false, null);

    // A stretch with no method of its own to blame (a runtime-async dispatch) or whose own code is where blocking work
    // belongs (a delegate task's run, SlowSteps.Delegates.cs), ended: judged for the first steps of the user's it ran.
    private void JudgeFirstStepsOnly(ThreadTracker tracker, Frame frame, long now, bool delegateRun, System.Reflection.MethodInfo? delegateCode)
    {
        var own = OwnTime(tracker, frame, now);
        if (own < settings.SlowTicks)
            return;
        var times = tracker.OwnTimes();
        var preempted = Preempted(frame, times.Waited, now);
        own -= RuntimesShare(own, RuntimeTime.JitOnThisThread - frame.JitStart, preempted + Stolen(frame, own, preempted, times), OnCpu(frame, times));
        if (own < settings.SlowTicks)
            return;
        // Without a method of its own to name, only a first step of the user's it ran can be reported: nothing to build
        // (and no wait for the watchdog) when the step created no box of the user's.
        var firstSteps = FirstSteps(frame);
        if (firstSteps.Count == 0)
            return;
        Interlocked.Increment(ref _inFlight);
        try
        {
            var split = Split(tracker, frame, now, times);
            stalls.CatchUp(now);
            var slack = own - (NeverSwitched(frame, times) ? 0 : NotItsOwn(frame, now)) - settings.SlowTicks;
            if (slack < 0 || !frame.TryClaimSlowReport())
                return;
            // The chain is the dispatcher's while it runs (its continuations are handed back after this event), and the
            // user's method may have moved on already on another thread: the stack is that method's own frame, parked
            // where the step left it.
            var stack = LongestFirstStep(firstSteps);
            var evidence = new StretchEvidence(null, -1, AsyncState.Unknown, DetectionSettings.Seconds(own), Ongoing: false)
            {
                FirstSteps = firstSteps,
                WarmUp = CompiledMuch(frame, now),
                ProcessJitTicks = RuntimeTime.JitInProcess - frame.ProcessJitStart,
                FromTicks = frame.Start,
                ToTicks = now,
                SlackTicks = slack,
                RuntimeAsync = !delegateRun,
                DelegateRun = delegateRun,
                DelegateCode = delegateCode,
            };
            // A delegate's first step is created where its box's record says (Task.Run(async () => ...): where that task
            // was created, followed from the box); a runtime-async context's id is its dispatcher task's, whose record does.
            var record = delegateRun ? firstSteps.MaxBy(s => s.GapTicks)!.Record : frame.Record;
            sink.Add(Finding(tracker, 0, stack, record, evidence, frame, split, now));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    // The same step from the async events (SlowSteps.Events.cs), judged after it ended: the first steps it ran are the
    // boxes the TPL events saw it create when they are on beside, else the boxes whose park created a context from it,
    // each with the await its context's first resume says it parked at.
    private void JudgeRuntimeAsyncEventStep(SlowEventStep slow)
    {
        var step = slow.Step;
        var tracker = TrackerOf(step.OsThreadId);
        var firstSteps = tracker is null ? [] : FirstStepsWithin(tracker, step.Start, step.End);
        if (firstSteps.Count == 0)
            firstSteps = ParkedChildren(slow);
        if (firstSteps.Count == 0 || EventStepTime(step, tracker, frameworks: true) is not var (own, split, processJit))
            return;
        var stack = LongestFirstStep(firstSteps);
        var evidence = new StretchEvidence(null, -1, AsyncState.Unknown, DetectionSettings.Seconds(own), Ongoing: false)
        {
            FirstSteps = firstSteps,
            ProcessJitTicks = processJit,
            FromTicks = step.Start,
            ToTicks = step.End,
            Time = split,
            RuntimeAsync = true,
        };
        // A runtime-async context's id is its dispatcher task's: its record, with the TPL events on, says who created it.
        sink.Add(new StepFinding(0, time.GetUtcNow(), tracker?.ThreadId ?? 0, stack, FindRecord((int)step.Context), evidence));
    }

    // The stack a runtime-async step's report shows: the first step that held most of it, its method's own frame parked
    // where the step left it.
    private static RawAsyncStack LongestFirstStep(List<FirstStep> firstSteps) => firstSteps.MaxBy(s => s.GapTicks)!.Stack;

    // The user's async methods whose box parked in the step, from the contexts their parks created (oldest first): each
    // with the await its context first resumed at, after the gap since the previous one (or the step's start).
    private static List<FirstStep> ParkedChildren(SlowEventStep slow)
    {
        var found = new List<FirstStep>();
        var previous = slow.Step.Start;
        foreach (var child in slow.Children ?? [])
        {
            if (child.Resumed && EventSteps.StateMachineOf(child.LeafMethod) is { } stateMachine && Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
                found.Add(new FirstStep(null, stateMachine, child.LeafState, child.CreatedAt - previous));
            previous = child.CreatedAt;
        }
        return found;
    }

    // The innermost step, or request standing in for one (a request runs above the step of Kestrel's that ran it). A
    // runtime-async chain's step is passed over: nothing in it can be named while it runs (the user's first step in it
    // has no box yet); the step around it, if any, is watched as before. So is a request frame that stands for nothing
    // any more, its thread not having taken it off yet: a handler that ended on another thread, or parked and left its
    // thread to the pool, is not running here (watched, it read as hung once its thread had been idle for a second).
    private static Frame? InnermostStep(ThreadTracker tracker)
    {
        for (var i = tracker.Depth - 1; i >= 0; i--)
        {
            if (tracker.FrameAt(i) is ({ Kind: FrameKind.Request } or { Kind: FrameKind.AsyncStep, Box: not null }) and var frame
                && !(frame.Kind == FrameKind.Request && tracker.StandsForNothing(frame)))
                return frame;
        }
        return null;
    }
}
