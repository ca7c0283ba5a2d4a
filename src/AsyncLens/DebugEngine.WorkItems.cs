using AsyncLens.Detection;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens;

/// <summary>
/// Work no TPL event brackets (<see cref="FrameKind.WorkItem"/>): a thread-pool work item, a timer's callback, a thread of
/// the app's own, seen start and end through the execution context they run in (<see cref="ContextEntries"/>). A frame
/// stands in for each from its start, when the thread runs nothing debug mode brackets, to its end, or to the first
/// synchronous wait on a task in it (a thread's <c>RunAsync().GetAwaiter().GetResult()</c>): the first step of an async
/// method it called ran inside it and is judged there, as one a delegate task ran (SlowSteps.Delegates.cs).
/// </summary>
internal sealed partial class DebugEngine
{
    // Without step frames (the async events give the steps), or in a work item's (whose callback is read from the
    // sample, SlowSteps.Delegates.cs), what a creation's stack sample is shared by: the created method (its box type, or
    // the delegate's method) rather than only its name, which methods of other types share.
    private object? CreatedCode(int taskId, Frame? frame) =>
        (_stepSource == StepSourceKind.AsyncEvents || frame?.Kind == FrameKind.WorkItem) && _registry.Find(taskId) is { } task
            ? BoxInfo.Of(task) ?? (object?)TaskInternals.Action(task)?.Method
            : null;

    // Where the TPL events bracket every task's run, a frame stands in for work they do not. On the async events alone
    // every run enters at depth 0 (a resumed step too): only its start is kept, and the parks its thread made outside any
    // context in it, which the events say later, tell whether it ran a first step (SlowSteps.EnteredRuns.cs).
    private void WatchContextEntries()
    {
        if (_stepSource == StepSourceKind.Tpl)
            ContextEntries.Start(OnContextEntered, OnContextLeft);
        else if (_stepSource == StepSourceKind.AsyncEventsOnly)
        {
            // What a slow run's end reads on the app's thread is made ready here, not at the end of the first slow step.
            _steps.PrepareEnteredRuns();
            ContextEntries.Start(OnContextEnteredOnEvents, OnContextLeftOnEvents);
        }
    }

    // A request or handler standing on the thread is judged as such (SlowSteps.ParkedRequests.cs): not a run of its own.
    private static void OnContextEnteredOnEvents()
    {
        var tracker = ThreadTracker.Current;
        if (tracker.Depth != 0)
        {
            tracker.EnteredAt = 0;
            return;
        }
        // Every await resumed on the pool enters here: the clock once, and the figures a slow run is measured against as
        // last read (up to 10 ms old), not read again.
        var now = DetectionSettings.Now;
        tracker.EnteredBaseline = tracker.Baseline(now);
        tracker.EnteredAt = now;
    }

    private void OnContextLeftOnEvents()
    {
        if (ThreadTracker.Existing is { EnteredAt: not 0 } tracker)
            _steps.OnEnteredRunLeft(tracker);
    }

    // Every task's run enters its context too, inside the frame its TPL event pushed: passed over before the clock is read.
    private void OnContextEntered()
    {
        var current = ThreadTracker.Current;
        if (current.Depth > 0 && current.FrameAt(0)?.Kind != FrameKind.WorkItem)
            return;
        var now = DetectionSettings.Now;
        var tracker = Tracker(now);
        // A stand-in left on (its end not seen: the app switched contexts itself) stands for nothing any more.
        if (tracker is { Depth: 1, Top: { Kind: FrameKind.WorkItem } stale })
            Drop(tracker, stale, now);
        if (tracker.Depth == 0)
            StandIn(tracker, FrameKind.WorkItem, now).WorkItem = tracker.IsPoolThread ? WorkItems.CompletedOnThisThread() : -1;
    }

    private void OnContextLeft()
    {
        if (ThreadTracker.Existing is not { Top.Kind: FrameKind.WorkItem or FrameKind.Request } tracker || tracker.FrameAt(0)?.Kind != FrameKind.WorkItem)
            return;
        var now = DetectionSettings.Now;
        Tracker(now);
        // A request or handler begun in the work item, whose frame its thread would drop at its next event, is over with it.
        if (tracker is { Depth: 2, Top: { Kind: FrameKind.Request } request })
        {
            _steps.OnRequestDropped(tracker, request, now, standsForNothing: true);
            Drop(tracker, request, now);
        }
        EndWorkItem(tracker, now);
    }

    // A pool thread running a work item and nothing debug mode brackets in it: no frame, or only the one standing for the
    // work item (a request or a handler begun there stands in for its own stretch above it, which the work item's does
    // not count as its own).
    private static bool InWorkItemOnly(ThreadTracker tracker) =>
        tracker.IsPoolThread && (tracker.Depth == 0 || tracker is { Depth: 1, Top.Kind: FrameKind.WorkItem });

    // Judged at its end, or where its thread first blocks on a task: what ran before is the first steps it called.
    private void EndWorkItem(ThreadTracker tracker, long now)
    {
        if (tracker.Depth != 1 || tracker.Top is not { Kind: FrameKind.WorkItem } item)
            return;
        _steps.OnStepEnd(tracker, item, now);
        Drop(tracker, item, now);
    }
}
