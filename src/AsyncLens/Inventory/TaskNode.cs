using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Inventory;

internal enum NodeKind : byte
{
    /// <summary>An async method: its box (a task, or a pooled ValueTask method's box that is not).</summary>
    AsyncMethod,

    /// <summary>A delegate task: Task.Run, Task.Factory.StartNew, ContinueWith.</summary>
    DelegateTask,

    /// <summary>Task.WhenAll, Task.WhenAny, Task.Run's unwrap: a task made of others.</summary>
    Combinator,

    /// <summary>Something awaited that is not code: Task.Delay, a TaskCompletionSource, a semaphore, a socket.</summary>
    Awaited,

    /// <summary>A thread blocked in <c>.Result</c> / <c>.Wait()</c>: it waits for the task it awaits (known only from outside, where stacks can be read).</summary>
    Thread,
}

/// <summary>
/// One piece of pending async work in a snapshot, with the edges "awaits" and "awaited by" (views into two
/// arrays the graph shares: a snapshot of 100,000 nodes allocates two arrays, not 200,000 lists).
/// </summary>
internal sealed class TaskNode(object target, long id, NodeKind kind, int index)
{
    /// <summary>Its position in <see cref="TaskGraph.Nodes"/>.</summary>
    public int Index { get; internal set; } = index;

    public object Target { get; } = target;

    /// <summary><see cref="Task.Id"/>, or a negative number for work that is not a task (a pooled box, a channel operation).</summary>
    public long Id { get; } = id;

    public NodeKind Kind { get; } = kind;

    public BoxInfo? Box { get; init; }

    /// <summary>The state machine's state (<see cref="AsyncState"/>).</summary>
    public int State { get; set; } = AsyncState.Unknown;

    public MethodInfo? DelegateMethod { get; init; }

    /// <summary>What it is, for the kinds that are not async methods: "Task.WhenAll", "Task.Delay", ...</summary>
    public string? Label { get; init; }

    /// <summary>For a combinator: how many of its tasks are still pending, and of how many, where known.</summary>
    public int? PendingCount { get; init; }

    public int? TotalCount { get; init; }

    /// <summary>True when the method awaits <c>Task.Yield()</c> (it is about to run again).</summary>
    public bool AwaitsYield { get; init; }

    /// <summary>Parked on a task that has completed: its continuation is about to run (or queued to).</summary>
    public bool Resuming { get; set; }

    public ArraySegment<TaskNode> Awaits { get; set; } = ArraySegment<TaskNode>.Empty;

    public ArraySegment<TaskNode> AwaitedBy { get; set; } = ArraySegment<TaskNode>.Empty;

    /// <summary>A thread is blocked in Wait / Result on it.</summary>
    public bool BlockedThreadWaits { get; set; }

    /// <summary>Shown as a root only because it awaits, through others, its own awaiters (a deadlock).</summary>
    public bool InCycle { get; set; }

    /// <summary>
    /// For a node read from another process (asynclens ps / pstree / stacks): its text, kind and state as worked
    /// out by the reader, which has no live object to ask. <see cref="Target"/> is then the object's address. Also
    /// for a frame of a runtime-async chain, whose continuation object cannot be asked (<see cref="ChainTask"/>).
    /// </summary>
    public NodeText? Description { get; set; }

    public string? KindName { get; init; }

    /// <summary>
    /// For a frame of a .NET 11 runtime-async chain: the chain's task. The outermost frame's <see cref="Target"/> is that
    /// task, the others' their continuation objects (never expanded on their own: the chain is read whole).
    /// </summary>
    public Task? ChainTask { get; init; }

    /// <summary>For a chain's outermost frame: the innermost one, the frame that awaits what the chain waits for.</summary>
    public TaskNode? Innermost { get; set; }

    public string? StateName { get; init; }

    /// <summary>An async iterator's box (<see cref="AsyncState.IsPausedIterator"/>).</summary>
    public bool IsIterator => Box?.IsIterator ?? KindName == "async-iterator";

    /// <summary>It waits for something: async work, or a thread (what nothing awaits is where a tree or stack starts).</summary>
    public bool IsCode => Kind is NodeKind.AsyncMethod or NodeKind.DelegateTask or NodeKind.Combinator or NodeKind.Thread;
}
