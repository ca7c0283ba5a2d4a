using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// slow-step: one step of an async method (a MoveNext between two awaits) held its thread for at
/// least the threshold. Its own time is measured from the runtime's TraceSynchronousWork events, minus
/// the steps of other async methods that ran inline inside it, blocking waits reported on their own,
/// JIT compilation on its thread and (Linux) time its thread waited for a CPU; and it must be slow even
/// without the GC pauses that happened meanwhile.
/// hung-step: the watchdog sees a step still running past the hung threshold, and says so once.
/// </summary>
internal sealed class SlowSteps(DetectionSettings settings, IFindingSink sink, TimeProvider time)
{
    // Slow-step findings being built on app threads: process exit waits for them.
    private int _inFlight;

    /// <summary>Called on the app thread as a step ends, while its frame is still on the thread's stack.</summary>
    public void OnStepEnd(ThreadTracker tracker, Frame frame, long now)
    {
        if (frame.Kind != FrameKind.AsyncStep || frame.Box is not { } box || frame.Task is not { } task)
            return;
        var own = OwnTime(frame, now);
        if (own < settings.SlowTicks)
            return;
        var ownJit = RuntimeTime.JitOnThisThread - frame.JitStart;
        own -= ownJit + Preempted(frame, tracker.OwnRunDelay());
        if (own - RuntimeTime.GcSince(frame) < settings.SlowTicks)
            return;
        Interlocked.Increment(ref _inFlight);
        try
        {
            if (!frame.TryClaimSlowReport())
                return;
            var stopped = StoppedState(frame, task, box);
            var stack = frame.Captured is { } captured && captured.FrameVersion == frame.Version
                ? captured.Stack
                : RawAsyncStack.Capture(task, frame.ResumedState);
            sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box, frame.ResumedState, stopped,
                DetectionSettings.Seconds(own), Ongoing: false, stack, frame.Record));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>Watchdog tick: read the parents of long steps while they still exist; report hung ones.</summary>
    public void Tick(long now)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            var frame = InnermostStep(tracker);
            if (frame is null)
                continue;
            var version = frame.Version;
            var task = frame.Task;
            var box = frame.Box;
            if ((version & 1) == 0 || task is null || box is null)
                continue;
            var own = OwnTime(frame, now);
            if (own < settings.SlowTicks / 2)
                continue;
            own -= Preempted(frame, RunQueue.Delay(tracker.OsThreadId));
            if (own >= settings.SlowTicks / 2 && frame.Captured is null)
            {
                var stack = RawAsyncStack.Capture(task, frame.ResumedState);
                if (frame.Version == version)
                    frame.Captured = new CapturedStack(version, stack);
            }
            if (own < settings.HungTicks || frame.HungReported || tracker.Wait is { IsOpen: true }
                || own - RuntimeTime.GcSince(frame) < settings.HungTicks)
                continue;
            var hungStack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
            if (frame.Version != version)
                continue;
            frame.HungReported = true;
            sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box, frame.ResumedState, -1,
                DetectionSettings.Seconds(own), Ongoing: true, hungStack, frame.Record));
        }
    }

    /// <summary>
    /// At process exit (or when debug mode is switched off): a step whose method completed runs its awaiters'
    /// continuations inline, and the last of them may release Main (or call Disable) before the runtime raises
    /// the step's end event. Report every open step past
    /// the threshold now (its own time ends where the frame nested in it began); its end will not report again.
    /// Then wait for findings other threads are still building.
    /// </summary>
    public void FlushOpenSteps(long now)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            var depth = tracker.Depth;
            for (var i = 0; i < depth; i++)
            {
                if (tracker.FrameAt(i) is not { Kind: FrameKind.AsyncStep, Task: { } task, Box: { } box } frame || (frame.Version & 1) == 0)
                    continue;
                var own = OwnTime(frame, tracker.FrameAt(i + 1)?.Start ?? now);
                if (own >= settings.SlowTicks)
                    own -= Preempted(frame, RunQueue.Delay(tracker.OsThreadId));
                if (own - RuntimeTime.GcSince(frame) < settings.SlowTicks || !frame.TryClaimSlowReport())
                    continue;
                var stack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
                sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box, frame.ResumedState,
                    StoppedState(frame, task, box), DetectionSettings.Seconds(own), Ongoing: false, stack, frame.Record));
            }
        }
        for (var waited = 0; Volatile.Read(ref _inFlight) > 0 && waited < 500; waited++)
            Thread.Sleep(1);
    }

    // Noted as it happened if the step parked on a task or completed; otherwise (Task.Yield, custom awaiters) the
    // box's state now, unless another thread already took it further (running: -1; completed: cleared to 0).
    private static int StoppedState(Frame frame, Task task, BoxInfo box)
    {
        if (frame.StoppedState != BoxInfo.UnknownState)
            return frame.StoppedState;
        var state = box.ReadState(task);
        return state >= 0 && !task.IsCompleted ? state : BoxInfo.UnknownState;
    }

    // Time the step's thread waited for a CPU since the step began (0 where that is not known).
    private static long Preempted(Frame frame, long runDelayNow) =>
        frame.RunDelayStart < 0 || runDelayNow < 0 ? 0 : Math.Max(0, runDelayNow - frame.RunDelayStart);

    // Wall time of the step, less nested async steps and reported blocking waits (JIT time, known only on the
    // step's own thread, and run-queue delay, worth reading only for long steps, are taken off separately).
    private static long OwnTime(Frame frame, long end) =>
        end - frame.Start - frame.ChildTicks - Volatile.Read(ref frame.ExcludedTicks);

    private static Frame? InnermostStep(ThreadTracker tracker)
    {
        for (var i = tracker.Depth - 1; i >= 0; i--)
        {
            if (tracker.FrameAt(i) is { Kind: FrameKind.AsyncStep } frame)
                return frame;
        }
        return null;
    }
}
