using System.Diagnostics;
using AsyncLens.Reporting;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Tracking;

/// <summary>A thread blocked in Wait / Result / GetResult on a task, from TaskWaitBegin until the task completes.</summary>
internal sealed class SyncWait
{
    private int _closed;

    public SyncWait(int taskId, long start, ThreadTracker thread, StackFrame[] stack, Frame? frame, StepContext? step, Task? waitedTask)
    {
        TaskId = taskId;
        Start = start;
        Thread = thread;
        Stack = stack;
        Frame = frame;
        FrameVersion = frame?.Version ?? 0;
        Step = step;
        WaitedTask = waitedTask;
        WaitedState = waitedTask is not null && Runtime.BoxInfo.Of(waitedTask) is { } box ? box.ReadState(waitedTask) : AsyncState.Unknown;
        Endpoint = frame?.RunningEndpoint;
    }

    /// <summary>The ASP.NET Core endpoint whose handler was running on the thread when the wait began, if any.</summary>
    public object? Endpoint { get; }

    public int TaskId { get; }

    public long Start { get; }

    public ThreadTracker Thread { get; }

    /// <summary>The waiting thread's stack at the start of the wait: it names the line that waited.</summary>
    public StackFrame[] Stack { get; }

    /// <summary>The innermost frame the wait happened in (its blocked time is not the step's own).</summary>
    public Frame? Frame { get; }

    public int FrameVersion { get; }

    public StepContext? Step { get; }

    public Task? WaitedTask { get; }

    /// <summary>The await the waited-for async method was parked on when the wait began.</summary>
    public int WaitedState { get; }

    /// <summary>
    /// The outermost method of the runtime-async chain (.NET 11) the waited-for task stands for, read by the watchdog
    /// while the wait lasts (<see cref="NoteChain"/>): the chain is gone once the task completes, and the wait is
    /// reported after that. Null for a classic task, or one not read.
    /// </summary>
    public Runtime.RuntimeAsyncFrame? WaitedChain { get; private set; }

    private int _chainRead;

    /// <summary>Reads <see cref="WaitedChain"/> once, on a wait long enough to be reported (its task's chain suspended now).</summary>
    public void NoteChain()
    {
        if (WaitedTask is not { } task || Interlocked.Exchange(ref _chainRead, 1) != 0 || !Runtime.RuntimeAsyncChains.IsChainTask(task))
            return;
        var frames = new List<Runtime.RuntimeAsyncFrame>();
        if (Runtime.RuntimeAsyncChains.Read(task, frames, out _) && frames.Count > 0)
            WaitedChain = frames[0];
    }

    public bool ReportedOngoing { get; set; }

    /// <summary>The watchdog saw the thread blocked in it (past the spinning a wait starts with).</summary>
    public bool SeenBlocked { get; set; }

    /// <summary>The waiting thread's SynchronizationContext when the wait began (one of a type of its own: a UI thread's).</summary>
    public SynchronizationContext? Context { get; } = SynchronizationContext.Current is { } c && c.GetType() != typeof(SynchronizationContext) ? c : null;

    /// <summary>
    /// The scheduler of the task the waiting thread runs when it runs one task at a time (the exclusive scheduler of a
    /// <see cref="ConcurrentExclusiveSchedulerPair"/>, a scheduler of one thread): awaits in it queue their continuations there.
    /// </summary>
    public TaskScheduler? Scheduler { get; } = TaskScheduler.Current is { MaximumConcurrencyLevel: 1 } s && s != TaskScheduler.Default ? s : null;

    /// <summary>When the watchdog first saw the waited chain parked on a completed task (its continuation queued), or 0.</summary>
    public long StuckSince { get; set; }

    public bool IsOpen => Volatile.Read(ref _closed) == 0;

    /// <summary>Closes the wait once; false when someone else already did.</summary>
    public bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

    /// <summary>True while the frame the wait began in is still running (so the wait may still be going on).</summary>
    public bool FrameStillLive => Frame is not null && Frame.Version == FrameVersion;
}
