using System.Diagnostics;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// blocking-wait: a thread-pool thread, a thread with a SynchronizationContext, or an async step
/// blocked in <c>.Result</c> / <c>.Wait()</c> / <c>GetAwaiter().GetResult()</c> (TaskWaitBegin with
/// Behavior 1) for at least the threshold. The wait ends when the task completes (TraceOperationEnd)
/// or when the waiting thread raises its next event (a timeout). A wait still blocked past the hung
/// threshold is reported while it lasts, once: the deadlock case. Threads outside these (the main
/// thread of an <c>async Main</c>, blocked on it by design) are left alone.
/// </summary>
internal sealed class BlockingWaits(DetectionSettings settings, IFindingSink sink, TaskRegistry registry, TimeProvider time)
{
    private readonly Dictionary<int, List<SyncWait>> _byTask = new();
    private volatile int _count;

    // The ids of the last tasks to complete, overwritten in turn (a few ns a completion): a wait whose task completed
    // while its thread was still recording it (before the task was found, or before the wait was registered) is over.
    private const int RecentCompletions = 1024;
    private readonly int[] _recentlyCompleted = new int[RecentCompletions];
    private int _completions;

    public void OnWaitBegin(ThreadTracker tracker, int waitedTaskId, long now)
    {
        OnThreadEvent(tracker, now);
        var inStep = tracker.InAsyncStep();
        if (!tracker.IsPoolThread && !inStep && SynchronizationContext.Current is null)
            return;
        // Found first, while it is still pending: it may complete on another thread while this one goes on (below).
        var waited = registry.Find(waitedTaskId);
        // ~25 µs, paid only by sync-over-async itself; it names the line that waited even if the wait never ends.
        var stack = new StackTrace(2, fNeedFileInfo: false).GetFrames();
        var step = ContextOf(tracker) ?? (FindRecord is null ? null : ContextWithoutFrames(stack));
        var wait = new SyncWait(waitedTaskId, now, tracker, stack, tracker.Top, step, waited);
        tracker.Wait = wait;
        using (EngineLocks.Hold(_byTask))
        {
            if (!_byTask.TryGetValue(waitedTaskId, out var list))
                _byTask[waitedTaskId] = list = new List<SyncWait>(1);
            list.Add(wait);
            _count++;
        }
        // The task completed while this thread got here (milliseconds while this code is cold: the task may be gone from
        // the registry already): its completion found no wait to close, and the wait would have lasted to this thread's
        // next event. A `.Result` on a method that had just yielded, then a 200 ms Thread.Sleep, was reported as a 0.2 s
        // blocking-wait, not the sleep's step.
        if (waited is { IsCompleted: true } || Array.IndexOf(_recentlyCompleted, waitedTaskId) >= 0)
            OnThreadEvent(tracker, now);
    }

    /// <summary>Any task completion: closes the waits on it.</summary>
    public void OnTaskCompleted(int taskId, long now)
    {
        _recentlyCompleted[++_completions & (RecentCompletions - 1)] = taskId; // racy on purpose: a lost slot costs one miss
        if (_count == 0)
            return;
        List<SyncWait>? waits;
        using (EngineLocks.Hold(_byTask))
        {
            if (!_byTask.Remove(taskId, out waits))
                return;
            _count -= waits.Count;
        }
        foreach (var wait in waits)
            Close(wait, now);
    }

    /// <summary>The waiting thread runs again: whatever wait it had is over (it timed out or was canceled).</summary>
    public void OnThreadEvent(ThreadTracker tracker, long now)
    {
        if (tracker.Wait is not { } wait)
            return;
        tracker.Wait = null;
        End(wait, now);
    }

    private void End(SyncWait wait, long now)
    {
        if (!wait.IsOpen)
            return;
        using (EngineLocks.Hold(_byTask))
        {
            if (_byTask.TryGetValue(wait.TaskId, out var list) && list.Remove(wait))
            {
                _count--;
                if (list.Count == 0)
                    _byTask.Remove(wait.TaskId);
            }
        }
        Close(wait, now);
    }

    public void Tick(long now)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            // A task completed by a TaskCompletionSource's SetResult raises no event (Akka's Ask, Orleans' grain calls):
            // its wait ends when its thread stops waiting, which the thread's next event says, if it has one soon. A
            // thread an actor or job runtime runs its handlers on may have none for long (an Akka handler's `.Result`
            // on an Ask of 0.15 s was reported as 1.5 s, until that thread's next task event): the thread no longer
            // blocked, once seen blocked in it, ends it now (a tick late at most). Not before: a wait spins first, yielding
            // its processor some 25 times, which on a loaded machine lasts long (not blocked, and not over).
            if (tracker.Wait is { IsOpen: true } open)
            {
                if ((open.Thread.Thread.ThreadState & System.Threading.ThreadState.WaitSleepJoin) != 0)
                    open.SeenBlocked = true;
                else if (open.SeenBlocked)
                {
                    End(open, now);
                    continue;
                }
            }
            // A wait on a runtime-async chain's task (.NET 11) names the chain's outermost method: read while it is suspended.
            if (tracker.Wait is { IsOpen: true } lasting && now - lasting.Start >= settings.SlowTicks / 2)
                lasting.NoteChain();
            if (tracker.Wait is { IsOpen: true, ReportedOngoing: false } stuck && (stuck.Context is not null || stuck.Scheduler is not null) && StillBlocked(stuck))
                CheckDeadlock(stuck, now);
            if (tracker.Wait is not { IsOpen: true, ReportedOngoing: false } wait || now - wait.Start < settings.HungTicks || !StillBlocked(wait))
                continue;
            wait.ReportedOngoing = true;
            if (wait.Frame is { } frame && wait.FrameStillLive)
                frame.HungReported = true; // one report for one hang: this one says more than hung-step would
            sink.Add(Finding(wait, now - wait.Start, ongoing: true));
        }
    }

    // sync-over-async-deadlock: a thread with a SynchronizationContext of its own (a UI thread's, one thing at a time),
    // or running a task of a scheduler that runs one at a time, blocked on a chain whose innermost async method is parked on a task that has completed: its continuation was
    // queued to the context of the thread that waits for it, and cannot run. Reported once that has lasted half the
    // slow threshold, and the wait the whole threshold: within twice the threshold. It replaces the blocking-wait.
    private void CheckDeadlock(SyncWait wait, long now)
    {
        if (now - wait.Start < settings.SlowTicks / 2 || wait.WaitedTask is null || ParkedOnCompleted(wait.WaitedTask) is not var (box, state))
        {
            wait.StuckSince = 0;
            return;
        }
        if (wait.StuckSince == 0)
            wait.StuckSince = now;
        if (now - wait.StuckSince < settings.SlowTicks / 2 || now - wait.Start < settings.SlowTicks)
            return;
        wait.ReportedOngoing = true;
        if (wait.Frame is { } frame && wait.FrameStillLive)
            frame.HungReported = true;
        sink.Add(Finding(wait, now - wait.Start, ongoing: true) with
        {
            Stuck = (box, state),
            QueuedTo = wait.Context is null && wait.Scheduler is { } scheduler
                ? $"this thread's TaskScheduler ({Symbols.TypeNames.Format(scheduler.GetType())}, one task at a time)"
                : "this thread's SynchronizationContext",
        });
    }

    // Down the awaiter chain from the waited task: the async method parked on a task that has completed, if one is.
    private static (Task Box, int State)? ParkedOnCompleted(Task waited)
    {
        object? current = waited;
        for (var depth = 0; depth < 32 && current is Task task && BoxInfo.Of(task) is { } box; depth++)
        {
            var state = box.ReadState(task);
            if (state < 0 || box.Awaited(task) is not { } awaited)
                return null;
            if (awaited is Task { IsCompleted: true })
                return (task, state);
            current = awaited;
        }
        return null;
    }

    private void Close(SyncWait wait, long now)
    {
        if (!wait.TryClose())
            return;
        if (wait.Thread.Wait == wait)
            wait.Thread.Wait = null;
        var duration = now - wait.Start;
        if (duration < settings.SlowTicks)
        {
            if (wait.Frame is { } waited && wait.FrameStillLive)
                Interlocked.Add(ref waited.ShortWaitTicks, duration);
            return;
        }
        if (wait.Frame is { } frame && wait.FrameStillLive)
            Interlocked.Add(ref frame.ExcludedTicks, duration);
        wait.Thread.Notes.AddApart(wait.Start, now);
        // A wait that ended is reported only where the app's code made it; one still going on past the hung threshold
        // was reported while it lasted, whoever made it (a hang).
        if (!wait.ReportedOngoing && !Attribution.WaitSites.LibrarysOwn(wait.Stack.Select(f => f.GetMethod()),
                wait.Step is { } step ? step.Box?.StateMachineType ?? step.Code?.DeclaringType : null, wait.Endpoint is not null))
            sink.Add(Finding(wait, duration, ongoing: false));
    }

    private WaitFinding Finding(SyncWait wait, long duration, bool ongoing) =>
        new(wait.TaskId, time.GetUtcNow(), wait.Thread.ThreadId, wait.Stack, wait.WaitedTask, wait.WaitedState, DetectionSettings.Seconds(duration), ongoing, wait.Step)
        {
            Endpoint = wait.Endpoint,
            WaitedChain = wait.WaitedChain,
        };

    /// <summary>
    /// Set when debug mode's steps come from the async events (<see cref="StepSourceKind.AsyncEvents"/>): no frames
    /// bracket the wait's step, which is found from the waiting thread instead (<see cref="ContextWithoutFrames"/>).
    /// </summary>
    public Func<int, TaskRecord?>? FindRecord { get; set; }

    // A pool thread whose wait timed out goes back to the pool and blocks there, raising no event:
    // only trust "still blocked" while the frame (or, without frames, the task) it waited in is running, or on a thread
    // that is not the pool's.
    private bool StillBlocked(SyncWait wait) =>
        (wait.Thread.Thread.ThreadState & System.Threading.ThreadState.WaitSleepJoin) != 0
        && (wait.FrameStillLive || !wait.Thread.IsPoolThread || (FindRecord is not null && StepStillRunning(wait)));

    private bool StepStillRunning(SyncWait wait) =>
        wait.Step is { TaskId: > 0 } step && registry.Find(step.TaskId) is { IsCompleted: false } task
        && (BoxInfo.Of(task) is not { } box || box.ReadState(task) == AsyncState.Running);

    // Without frames: the async method whose MoveNext is the innermost on the waiting stack (its box, the one of its type
    // running now), else the delegate task running on the thread.
    private StepContext? ContextWithoutFrames(StackFrame[] stack)
    {
        foreach (var frame in stack)
        {
            if (frame.GetMethod() is not { Name: nameof(System.Runtime.CompilerServices.IAsyncStateMachine.MoveNext), DeclaringType: { } type }
                || !typeof(System.Runtime.CompilerServices.IAsyncStateMachine).IsAssignableFrom(type))
                continue;
            if (registry.RunningBox(type) is { } task && BoxInfo.Of(task) is { } box)
                return new StepContext(task.Id, box, null, AsyncState.Running, RawAsyncStack.Capture(task), FindRecord!(task.Id));
            break;
        }
        return TaskInternals.Current() is { } current && BoxInfo.Of(current) is null
            ? new StepContext(current.Id, null, TaskInternals.Action(current)?.Method, AsyncState.Unknown, RawAsyncStack.Capture(current), FindRecord!(current.Id))
            : null;
    }

    // The innermost async step or delegate task the wait happened in: its stack and creation site go in the report.
    private static StepContext? ContextOf(ThreadTracker tracker)
    {
        for (var i = tracker.Depth - 1; i >= 0; i--)
        {
            switch (tracker.FrameAt(i))
            {
                case { Kind: FrameKind.AsyncStep, Task: { } task, Box: { } box } step:
                    return new StepContext(step.TaskId, box, null, step.ResumedState, RawAsyncStack.Capture(task, step.ResumedState), step.Record);
                case { Kind: FrameKind.Delegate, Task: { } task } run:
                    return new StepContext(run.TaskId, null, run.Code, AsyncState.Unknown, RawAsyncStack.Capture(task), run.Record);
            }
        }
        return null;
    }
}
