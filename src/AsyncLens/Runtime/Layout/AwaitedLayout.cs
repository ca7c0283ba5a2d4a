namespace AsyncLens.Runtime.Layout;

/// <summary>
/// The runtime's tasks and value-task sources that are not async methods: combinators (and the tasks they hold),
/// promises that stand for something awaited (a delay, a semaphore), <c>ContinueWith</c> tasks, and the sources a
/// <c>ValueTask</c> awaits (channel operations, sockets), which keep their awaiter in a continuation state.
/// </summary>
internal static class AwaitedLayout
{
    /// <summary><c>Task.WhenAll(Task[])</c> (keeps only a count) and <c>Task.WhenAll&lt;T&gt;</c> (keeps its tasks).</summary>
    public const string WhenAllType = "System.Threading.Tasks.Task+WhenAllPromise";

    /// <summary>int, in the non-generic <see cref="WhenAllType"/>: how many of its tasks are still pending.</summary>
    public const string WhenAllRemaining = "_remainingToComplete";

    /// <summary>Task[], in the generic <see cref="WhenAllType"/>.</summary>
    public const string WhenAllTasks = "m_tasks";

    /// <summary><c>Task.WhenAny</c> of two: keeps both.</summary>
    public const string WhenAnyOfTwoType = "System.Threading.Tasks.Task+TwoTaskWhenAnyPromise";

    public const string WhenAnyFirst = "_task1";

    public const string WhenAnySecond = "_task2";

    /// <summary><c>Task.WhenAny</c> of more than two (and <c>TaskFactory.ContinueWhenAny</c>).</summary>
    public const string WhenAnyType = "System.Threading.Tasks.TaskFactory+CompleteOnInvokePromise";

    /// <summary><c>Task.Run(async () => ...)</c>'s proxy for the inner task.</summary>
    public const string UnwrapType = "System.Threading.Tasks.UnwrapPromise";

    /// <summary><c>task.WaitAsync(cancellationToken or timeout)</c>: a task completing with the one it waits for, or on cancellation.</summary>
    public const string WaitAsyncType = "System.Threading.Tasks.Task+CancellationPromise";

    public const string DelayType = "System.Threading.Tasks.Task+DelayPromise";

    public const string DelayWithCancellationType = "System.Threading.Tasks.Task+DelayPromiseWithCancellation";

    /// <summary>The task of one <c>SemaphoreSlim.WaitAsync</c> waiter.</summary>
    public const string SemaphoreWaiterType = "System.Threading.SemaphoreSlim+TaskNode";

    /// <summary>The tasks <c>ContinueWith</c> creates (delegate tasks that wait for the task they continue).</summary>
    public static readonly string[] ContinueWithTaskTypes =
    [
        "System.Threading.Tasks.ContinuationTaskFromTask",
        "System.Threading.Tasks.ContinuationResultTaskFromTask",
        "System.Threading.Tasks.ContinuationTaskFromResultTask",
        "System.Threading.Tasks.ContinuationResultTaskFromResultTask",
    ];

    /// <summary>Task, in a ContinueWith task: the task it continues.</summary>
    public const string ContinueWithAntecedent = "m_antecedent";

    /// <summary>A value-task source's own field holding its awaiter's state (the awaiting box, when a box awaits it).</summary>
    public const string ContinuationState = "_continuationState";

    /// <summary>The core most value-task sources embed (pooled boxes, async iterators, sockets), with its own <see cref="ContinuationState"/>.</summary>
    public const string SourceCoreType = "System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore";

    public const string ChannelsAssembly = "System.Threading.Channels";

    public const string ChannelOperationType = "System.Threading.Channels.AsyncOperation";

    public const string ChannelBlockedReadType = "System.Threading.Channels.BlockedReadAsyncOperation";

    public const string ChannelBlockedWriteType = "System.Threading.Channels.BlockedWriteAsyncOperation";

    public const string ChannelWaitingReadType = "System.Threading.Channels.WaitingReadAsyncOperation";

    public const string ChannelWaitingWriteType = "System.Threading.Channels.WaitingWriteAsyncOperation";

    /// <summary>
    /// <c>ValueTask.AsTask()</c> of a value task backed by a source (a library's own pooled operation: Orleans' grain
    /// call responses, a socket's or a channel's): a task that completes with its source. <c>ValueTask&lt;T&gt;</c>'s and
    /// <c>ValueTask</c>'s, one name without arities.
    /// </summary>
    public const string ValueTaskAsTaskType = "System.Threading.Tasks.ValueTask+ValueTaskSourceAsTask";

    /// <summary>The IValueTaskSource it waits for, in <see cref="ValueTaskAsTaskType"/> (null once completed).</summary>
    public const string ValueTaskAsTaskSource = "_source";

    public const string SocketsAssembly = "System.Net.Sockets";

    /// <summary>A socket's pending receive, send or accept (a value-task source).</summary>
    public const string SocketOperationType = "System.Net.Sockets.Socket+AwaitableSocketAsyncEventArgs";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(WhenAllType, WhenAllRemaining, WhenAllTasks),
        new(WhenAnyOfTwoType, WhenAnyFirst, WhenAnySecond),
        new(WhenAnyType),
        new(UnwrapType),
        new(WaitAsyncType),
        new(DelayType),
        new(DelayWithCancellationType),
        new(SemaphoreWaiterType),
        .. ContinueWithTaskTypes.Select(name => new RuntimeType(name, ContinueWithAntecedent)),
        new(ValueTaskAsTaskType, ValueTaskAsTaskSource),
        new(SourceCoreType, ContinuationState),
        new(ChannelsAssembly, ChannelOperationType, [ContinuationState]),
        new(ChannelsAssembly, ChannelBlockedReadType, []),
        new(ChannelsAssembly, ChannelBlockedWriteType, []),
        new(ChannelsAssembly, ChannelWaitingReadType, []),
        new(ChannelsAssembly, ChannelWaitingWriteType, []),
        new(SocketsAssembly, SocketOperationType, []),
    ];
}

/// <summary>
/// The thread pool: its per-thread count of completed work items (when it changes, the work item that was running
/// ended); from outside, its queues (to count the work waiting for a thread) and the frames that say a thread is one
/// of its workers, and whether it is idle.
/// </summary>
internal static class ThreadPoolLayout
{
    /// <summary>static <see cref="WorkQueueType"/>: the one queue of the process's thread pool.</summary>
    public const string WorkQueue = "s_workQueue";

    public const string ThreadPoolType = "System.Threading.ThreadPool";

    public const string WorkQueueType = "System.Threading.ThreadPoolWorkQueue";

    /// <summary><c>ConcurrentQueue&lt;object&gt;</c> fields of <see cref="WorkQueueType"/>: the global queues.</summary>
    public static readonly string[] GlobalQueues = ["workItems", "highPriorityWorkItems", "lowPriorityWorkItems"];

    /// <summary><c>ConcurrentQueue&lt;object&gt;[]</c>: more global queues, on machines with many processors.</summary>
    public const string AssignableQueues = "_assignableWorkItemQueues";

    /// <summary>static <c>WorkStealingQueue[]</c>: each worker's local queue.</summary>
    public const string LocalQueues = "s_queues";

    public const string LocalQueueListType = "System.Threading.ThreadPoolWorkQueue+WorkStealingQueueList";

    public const string LocalQueueType = "System.Threading.ThreadPoolWorkQueue+WorkStealingQueue";

    /// <summary>object[] of <see cref="LocalQueueType"/>: the items queued (null where none).</summary>
    public const string LocalItems = "m_array";

    public const string QueueType = "System.Collections.Concurrent.ConcurrentQueue";

    /// <summary>The first segment of a <see cref="QueueType"/>; each links the next (<see cref="NextSegment"/>).</summary>
    public const string QueueHead = "_head";

    public const string SegmentType = "System.Collections.Concurrent.ConcurrentQueueSegment";

    public const string NextSegment = "_nextSegment";

    /// <summary>Slot[]: a struct per place, its <see cref="SlotItem"/> null once dequeued (or never filled).</summary>
    public const string Slots = "_slots";

    public const string SlotType = "System.Collections.Concurrent.ConcurrentQueueSegment+Slot";

    public const string SlotItem = "Item";

    /// <summary>The method at the bottom of every pool worker's stack.</summary>
    public const string WorkerThreadType = "System.Threading.PortableThreadPool+WorkerThread";

    public const string WorkerThreadStart = "WorkerThreadStart";

    /// <summary>The method a worker runs its work items under: a worker without it on its stack is between items (idle).</summary>
    public const string DispatchMethod = "Dispatch";

    public const string PoolType = "System.Threading.PortableThreadPool";

    /// <summary>static, thread-local: this thread's <see cref="CounterNodeType"/>, up to .NET 10 (<see cref="CompletionCounterOn"/>).</summary>
    public const string CompletionCounter = "t_completionCountObject";

    /// <summary>The same field from .NET 11 on, renamed (read in the shipped 11.0.0's <c>PortableThreadPool</c>).</summary>
    public const string CompletionCounterNode = "t_completionCountNode";

    public const int CompletionCounterRenamedIn = 11;

    /// <summary>
    /// The name of <see cref="CompletionCounter"/> on a runtime of that major version. Read under the old name on .NET 11,
    /// it was missing: no request or handler frame was seen to end with its work item there.
    /// </summary>
    public static string CompletionCounterOn(int runtimeMajor) => runtimeMajor >= CompletionCounterRenamedIn ? CompletionCounterNode : CompletionCounter;

    public const string CounterNodeType = "System.Threading.ThreadInt64PersistentCounter+ThreadLocalNode";

    /// <summary>uint, in <see cref="CounterNodeType"/>.</summary>
    public const string Count = "_count";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(RuntimeLayout.CoreLib, PoolType, [], [CompletionCounter], Until: CompletionCounterRenamedIn - 1),
        new(RuntimeLayout.CoreLib, PoolType, [], [CompletionCounterNode], Since: CompletionCounterRenamedIn),
        new(CounterNodeType, Count),
        new(RuntimeLayout.CoreLib, ThreadPoolType, [], [WorkQueue]),
        new(RuntimeLayout.CoreLib, WorkQueueType, [.. GlobalQueues, AssignableQueues], Methods: [DispatchMethod]),
        new(RuntimeLayout.CoreLib, LocalQueueListType, [], [LocalQueues]),
        new(LocalQueueType, LocalItems),
        new(QueueType, QueueHead),
        new(SegmentType, NextSegment, Slots),
        new(SlotType, SlotItem),
        new(RuntimeLayout.CoreLib, WorkerThreadType, [], Methods: [WorkerThreadStart]),
    ];
}

/// <summary>What the console's <c>cancel</c> reads: the source behind a <see cref="CancellationToken"/> a state machine holds.</summary>
internal static class CancellationLayout
{
    public const string TokenType = "System.Threading.CancellationToken";

    /// <summary>CancellationTokenSource, in <see cref="TokenType"/>: null for <see cref="CancellationToken.None"/>.</summary>
    public const string Source = "_source";

    internal static IEnumerable<RuntimeType> Types => [new(TokenType, Source)];
}
