using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// slow-step: one step of an async method (a MoveNext between two awaits) held its thread for at
/// least the threshold, measured from the runtime's TraceSynchronousWork events, minus the time of
/// other async methods' steps that ran inline inside it and of blocking waits reported on their own.
/// hung-step: the watchdog sees a step still running past the hung threshold, and says so once.
/// </summary>
internal sealed class SlowSteps(DetectionSettings settings, IFindingSink sink, TimeProvider time)
{
    /// <summary>Called on the app thread as a frame ends, before it is reused.</summary>
    public void OnStepEnd(ThreadTracker tracker, Frame frame, long now)
    {
        if (frame.Kind != FrameKind.AsyncStep || frame.Box is not { } box || frame.Task is not { } task)
            return;
        var own = now - frame.Start - frame.ChildTicks - Volatile.Read(ref frame.ExcludedTicks);
        if (own < settings.SlowTicks || !frame.TryClaimSlowReport())
            return;
        // A box that completed has its state machine cleared (state reads 0): the step ran to the end.
        var stopped = task.IsCompleted ? -2 : box.ReadState(task);
        var stack = frame.Captured is { } captured && captured.FrameVersion == frame.Version
            ? captured.Stack
            : RawAsyncStack.Capture(task, frame.ResumedState);
        sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box, frame.ResumedState, stopped,
            DetectionSettings.Seconds(own), Ongoing: false, stack, frame.Record));
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
            var own = now - frame.Start - frame.ChildTicks - Volatile.Read(ref frame.ExcludedTicks);
            if (own >= settings.SlowTicks / 2 && frame.Captured is null)
            {
                var stack = RawAsyncStack.Capture(task, frame.ResumedState);
                if (frame.Version == version)
                    frame.Captured = new CapturedStack(version, stack);
            }
            if (own < settings.HungTicks || frame.HungReported || tracker.Wait is { IsOpen: true })
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
    /// At process exit: a step whose method completed runs its awaiters' continuations inline, and the last
    /// of them may release Main before the runtime raises the step's end event. Report every open step past
    /// the threshold now (its own time ends where the frame nested in it began); its end will not report again.
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
                var end = tracker.FrameAt(i + 1)?.Start ?? now;
                var own = end - frame.Start - frame.ChildTicks - Volatile.Read(ref frame.ExcludedTicks);
                if (own < settings.SlowTicks || !frame.TryClaimSlowReport())
                    continue;
                var stack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
                sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box, frame.ResumedState,
                    task.IsCompleted ? -2 : box.ReadState(task), DetectionSettings.Seconds(own), Ongoing: false, stack, frame.Record));
            }
        }
    }

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
