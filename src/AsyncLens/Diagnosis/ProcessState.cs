using AsyncLens.Inventory;

namespace AsyncLens.Diagnosis;

/// <summary>
/// A frame of a thread's stack as the doctor judges it: the method as written, its line (the user's code has one,
/// from its PDB), and the runtime's name of it (<c>Type.Method</c>, the type as a definition: <c>System.Threading.Monitor.Wait</c>),
/// by which the runtime's own waits and the thread pool's plumbing are recognised; whether it is the app's own code
/// (its projects' modules, not .NET's nor a package's, as <c>CodeOrigin</c> says: a package's frame may have a line, from
/// its PDB, and is still not the app's; the app's may have none, in a Release build).
/// </summary>
internal sealed record ThreadFrameText(string Method, SourceLine? At, string? RuntimeName = null, bool App = false)
{
    public override string ToString() => At is null ? Method : $"{Method} at {At.File}:{At.Line}";
}

/// <summary>
/// How a thread used the processor while it was watched, before the read (from the kernel: <c>/proc/PID/task/TID</c>):
/// the share of the time it was running or ready to run, and how many times it gave the processor up by waiting.
/// </summary>
internal readonly record struct ThreadCpu(double Runnable, long Waits, TimeSpan Over);

/// <summary>One managed thread of the process as read, and what the reader linked it to.</summary>
/// <param name="ManagedId">Its managed thread id.</param>
/// <param name="OsId">Its operating system id.</param>
/// <param name="IsMain">The thread that runs the entry point (managed id 1).</param>
/// <param name="Frames">Top first.</param>
/// <param name="AsyncStep">The async method whose step it runs, if any.</param>
/// <param name="BlockedOn">Its node in the task graph when it is blocked in <c>.Result</c> / <c>.Wait()</c> (the node awaits the task).</param>
/// <param name="Cpu">Null when not sampled (a core dump).</param>
/// <param name="Lock">The lock it waits to enter (<c>lock</c>, <c>Monitor.Enter</c>) and who holds it, when read.</param>
/// <param name="Again">Its frames in a second read, a moment later (made when it looked hot), or null.</param>
internal sealed record ObservedThread(int ManagedId, uint OsId, bool IsMain, IReadOnlyList<ThreadFrameText> Frames,
    TaskNode? AsyncStep = null, TaskNode? BlockedOn = null, ThreadCpu? Cpu = null, LockWait? Lock = null, IReadOnlyList<ThreadFrameText>? Again = null)
{
    /// <summary>A pool worker's work items completed between the two reads, where both read its count (the thread pool's own per-thread count).</summary>
    public long? CompletedBetweenReads { get; init; }
}

/// <summary>How a lock wait's holder is known.</summary>
internal enum LockHolding
{
    /// <summary>The runtime records the holder (a monitor's sync block, a <see cref="Lock"/>'s or a write lock's owner field).</summary>
    Recorded,

    /// <summary>Read from the holder's code: a thread inside a try whose finally releases the lock (a semaphore, a <see cref="Mutex"/>).</summary>
    Code,

    /// <summary>A <see cref="ReaderWriterLockSlim"/> held by readers, one of them read from its code (a try whose finally exits the read lock).</summary>
    Readers,

    /// <summary>An event: nothing holds it, whoever sets it is code not yet run.</summary>
    Event,
}

/// <summary>
/// A thread waiting on a lock (or an event): the object's type (as written), the managed id of the thread holding it (0:
/// not named), the lock as the code names it (<c>Shelf.s_gate</c>, when read), how the holder is known, and where the
/// holder releases it and in which method (a holder read from its code).
/// </summary>
internal sealed record LockWait(string Type, int Owner, string? Name = null, LockHolding Holding = LockHolding.Recorded, SourceLine? Released = null, string? ReleasedIn = null);

/// <summary>
/// A <see cref="SemaphoreSlim"/> at count 0 and who holds it, as read from the holder's code: the pending async method
/// parked inside the try whose finally releases it; null when no pending method does (code that took it and returned
/// without releasing it, a release elsewhere, a thread: the holder is not named). <paramref name="Semaphore"/>: as written (<c>Stock._gate</c>);
/// <paramref name="Acquired"/>: the line of the <c>WaitAsync</c> before that try, if found; <paramref name="Released"/>:
/// the line of the release; <paramref name="Waiters"/>: the semaphore's queued async waits, first to last.
/// </summary>
internal sealed record SemaphoreHold(string Semaphore, TaskNode? Holder, SourceLine? Acquired, SourceLine? Released, IReadOnlyList<TaskNode> Waiters);

/// <summary>
/// What the doctor judges: one read of a process (or a dump), its pending work as the engine's graph, its threads,
/// the work queued to its thread pool (null when it could not be counted), and the semaphores held while async code
/// waits for them. A seam: the reader fills it from outside, a test builds it by hand.
/// </summary>
internal sealed record ProcessState(int ProcessId, DateTimeOffset TakenAt, TaskGraph Graph, IReadOnlyList<ObservedThread> Threads, long? QueuedWorkItems,
    IReadOnlyList<SemaphoreHold>? Semaphores = null)
{
    /// <summary>The pending work of a second read, a moment later (made when requests looked stuck), or null (one read: a dump).</summary>
    public SecondRead? Later { get; init; }
}

/// <summary>
/// The task graph of a second read of the process, taken at <paramref name="takenAt"/>: which of the first read's
/// pending methods are still pending at the same await. The same work is the same object (its address, from outside) or
/// the same task id where the runtime gave it one (a garbage collection between the reads may move the object).
/// </summary>
internal sealed class SecondRead(DateTimeOffset takenAt, TaskGraph graph)
{
    private readonly Dictionary<object, NodeText> _byTarget = graph.Nodes.Where(n => n.Kind == NodeKind.AsyncMethod).GroupBy(n => n.Target)
        .ToDictionary(g => g.Key, g => NodeTexts.Of(g.First()));

    private readonly Dictionary<long, NodeText> _byId = graph.Nodes.Where(n => n.Kind == NodeKind.AsyncMethod && n.Id > 0).GroupBy(n => n.Id)
        .ToDictionary(g => g.Key, g => NodeTexts.Of(g.First()));

    public DateTimeOffset TakenAt { get; } = takenAt;

    /// <summary>The method <paramref name="node"/> of the first read is pending in this one, parked where it was (<paramref name="at"/>: its text then).</summary>
    public bool StillAt(TaskNode node, NodeText at) =>
        _byTarget.TryGetValue(node.Target, out var then) && then == at || node.Id > 0 && _byId.TryGetValue(node.Id, out then) && then == at;
}
