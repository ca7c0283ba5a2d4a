using System.Reflection;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// How many work items the calling thread-pool thread has completed: the thread pool's own per-thread counter
/// (<see cref="ThreadPoolLayout"/>). When it changes between two events of the thread, the work item the first came
/// from has ended. Read through reflection; -1 where the fields are not there.
/// </summary>
internal static class WorkItems
{
    private static readonly FieldInfo? s_node = typeof(ThreadPool).Assembly.GetType(ThreadPoolLayout.PoolType)
        ?.GetField(ThreadPoolLayout.CompletionCounterOn(Environment.Version.Major), FieldAccessor.Static);

    private static readonly FieldInfo? s_count = typeof(ThreadPool).Assembly.GetType(ThreadPoolLayout.CounterNodeType)
        ?.GetField(ThreadPoolLayout.Count, FieldAccessor.Instance);

    public static long CompletedOnThisThread() => Completed(CounterOfThisThread());

    /// <summary>The calling thread's counter (the pool's per-thread node), for another thread to read with <see cref="Completed"/>; null off the pool.</summary>
    public static object? CounterOfThisThread()
    {
        try
        {
            return s_node?.GetValue(null);
        }
        catch (Exception ex) when (ex is FieldAccessException or ArgumentException or TargetException)
        {
            return null;
        }
    }

    /// <summary>How many work items the thread owning <paramref name="counter"/> has completed; -1 when unknown.</summary>
    public static long Completed(object? counter)
    {
        try
        {
            return counter is not null && s_count?.GetValue(counter) is uint count ? count : -1;
        }
        catch (Exception ex) when (ex is FieldAccessException or ArgumentException or TargetException)
        {
            return -1;
        }
    }
}
