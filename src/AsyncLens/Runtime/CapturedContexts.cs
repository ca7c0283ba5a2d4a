using System.Reflection;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// The <see cref="ExecutionContext"/> pending work runs in (<see cref="ContextLayout"/>): what an <c>AsyncLocal</c> set by
/// whoever started the work still says. Null when the work does not carry one (its starter suppressed the flow, or it
/// ran in the default context). Reading changes nothing.
/// </summary>
internal static class CapturedContexts
{
    private static readonly Func<object, object?>? s_stateObject = FieldAccessor.Reader<object?>(typeof(Task), ContextLayout.BoxContext);
    private static readonly Func<object, object?>? s_contingent = FieldAccessor.Reader<object?>(typeof(Task), TaskLayout.ContingentProperties);
    private static readonly Func<object, ExecutionContext?>? s_captured =
        FieldAccessor.Reader<ExecutionContext?>(typeof(Task).Assembly.GetType(TaskLayout.ContingentPropertiesType), ContextLayout.CapturedContext);

    private static readonly Type? s_queueType = typeof(Task).Assembly.GetType(ContextLayout.TimerQueueType);
    private static readonly Type? s_timerType = typeof(Task).Assembly.GetType(ContextLayout.TimerType);
    private static readonly MethodInfo? s_queues = s_queueType?.GetMethod(ContextLayout.TimerQueues, FieldAccessor.Static);
    private static readonly PropertyInfo? s_queueLock = s_queueType?.GetProperty(ContextLayout.TimerQueueLock, FieldAccessor.Instance);
    private static readonly Func<object, object?>? s_short = FieldAccessor.Reader<object?>(s_queueType, ContextLayout.ShortTimers);
    private static readonly Func<object, object?>? s_long = FieldAccessor.Reader<object?>(s_queueType, ContextLayout.LongTimers);
    private static readonly Func<object, object?>? s_next = FieldAccessor.Reader<object?>(s_timerType, ContextLayout.TimerNext);
    private static readonly Func<object, Delegate?>? s_callback = FieldAccessor.Reader<Delegate?>(s_timerType, ContextLayout.TimerCallback);
    private static readonly Func<object, uint>? s_period = FieldAccessor.Reader<uint>(s_timerType, ContextLayout.TimerPeriod);
    private static readonly Func<object, ExecutionContext?>? s_timerContext = FieldAccessor.Reader<ExecutionContext?>(s_timerType, ContextLayout.TimerContext);
    private static readonly Func<object, bool>? s_canceled = FieldAccessor.Reader<bool>(s_timerType, ContextLayout.TimerCanceled);

    // A list longer than this is read as far as this: a queue changing under a lock-free reader cannot loop it forever.
    private const int MaxTimers = 1_000_000;

    /// <summary>True when timers can be listed on this runtime.</summary>
    public static bool ReadsTimers => s_queues is not null && s_queueLock is not null && s_short is not null && s_long is not null
        && s_next is not null && s_callback is not null && s_timerContext is not null && s_canceled is not null && s_period is not null;

    /// <summary>The context an async method box last parked in, or a delegate task was created in.</summary>
    public static ExecutionContext? Of(Task task)
    {
        if (BoxInfo.Of(task) is not null)
            return s_stateObject?.Invoke(task) as ExecutionContext;
        return s_contingent?.Invoke(task) is { } cp ? s_captured?.Invoke(cp) : null;
    }

    /// <summary>Every timer armed now (made with <see cref="Timer"/> or <c>System.Timers.Timer</c>, not yet disposed) that flows a context.</summary>
    public static List<ArmedTimer> Timers()
    {
        var timers = new List<ArmedTimer>();
        if (!ReadsTimers || s_queues!.Invoke(null, null) is not Array queues)
            return timers;
        foreach (var queue in queues)
        {
            if (queue is null || s_queueLock!.GetValue(queue) is not Lock gate)
                continue;
            using (gate.EnterScope())
            {
                Collect(s_short!(queue), timers);
                Collect(s_long!(queue), timers);
            }
        }
        return timers;
    }

    private static void Collect(object? timer, List<ArmedTimer> into)
    {
        for (var n = 0; timer is not null && n < MaxTimers; n++, timer = s_next!(timer))
        {
            if (!s_canceled!(timer) && s_timerContext!(timer) is { } context && s_callback!(timer) is { } callback)
                into.Add(new ArmedTimer(callback, s_period!(timer), context));
        }
    }
}

/// <summary>A timer armed now: its callback, its period in milliseconds (<see cref="Timeout.Infinite"/> as uint: once), the context it runs in.</summary>
internal readonly record struct ArmedTimer(Delegate Callback, uint PeriodMs, ExecutionContext Context);
