namespace AsyncLens.Runtime.Layout;

/// <summary>
/// Where pending work keeps the <see cref="ExecutionContext"/> it was started in (its <c>AsyncLocal</c> values): an
/// async method's box, a delegate task, a timer. AsyncLens.Testing reads it to know which test started the work.
/// </summary>
internal static class ContextLayout
{
    /// <summary>
    /// object, on <see cref="Task"/>: an async method box keeps the context captured at its last await here (.NET 10
    /// dropped the box's own <c>Context</c> field); a delegate task keeps its state object.
    /// </summary>
    public const string BoxContext = "m_stateObject";

    /// <summary>ExecutionContext, in <see cref="TaskLayout.ContingentPropertiesType"/>: a delegate task's context, captured when it was created.</summary>
    public const string CapturedContext = "m_capturedContext";

    public const string TimerQueueType = "System.Threading.TimerQueue";

    /// <summary>static method, the getter of <c>TimerQueue.Instances</c>: one timer queue per processor.</summary>
    public const string TimerQueues = "get_Instances";

    /// <summary>Instance property (a <see cref="Lock"/>): what a queue holds while it changes its lists.</summary>
    public const string TimerQueueLock = "SharedLock";

    /// <summary>TimerQueueTimer: the heads of each queue's two linked lists (timers due soon, and later).</summary>
    public const string ShortTimers = "_shortTimers";

    public const string LongTimers = "_longTimers";

    public const string TimerType = "System.Threading.TimerQueueTimer";

    public const string TimerNext = "_next";

    public const string TimerCallback = "_timerCallback";

    public const string TimerPeriod = "_period";

    /// <summary>ExecutionContext: captured when the timer was made; null when it does not flow it (Task.Delay, CancelAfter, PeriodicTimer).</summary>
    public const string TimerContext = "_executionContext";

    public const string TimerCanceled = "_canceled";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(TaskLayout.Type, BoxContext),
        new(TaskLayout.ContingentPropertiesType, CapturedContext),
        new(RuntimeLayout.CoreLib, TimerQueueType, [ShortTimers, LongTimers], Methods: [TimerQueues]),
        new(TimerType, TimerNext, TimerCallback, TimerPeriod, TimerContext, TimerCanceled),
    ];
}
