using System.Reflection;

namespace AsyncLens.Runtime;

/// <summary>
/// How many work items the calling thread-pool thread has completed: the thread pool's own per-thread counter
/// (<c>PortableThreadPool.t_completionCountObject</c>, a <c>ThreadInt64PersistentCounter.ThreadLocalNode</c>).
/// When it changes between two events of the thread, the work item the first came from has ended. Read through
/// reflection (private runtime fields, checked on .NET 10.0.12); -1 where they are not there.
/// </summary>
internal static class WorkItems
{
    private static readonly FieldInfo? s_node = typeof(ThreadPool).Assembly.GetType("System.Threading.PortableThreadPool")
        ?.GetField("t_completionCountObject", BindingFlags.Static | BindingFlags.NonPublic);

    private static readonly FieldInfo? s_count = typeof(ThreadPool).Assembly.GetType("System.Threading.ThreadInt64PersistentCounter+ThreadLocalNode")
        ?.GetField("_count", BindingFlags.Instance | BindingFlags.NonPublic);

    public static long CompletedOnThisThread()
    {
        try
        {
            return s_node?.GetValue(null) is { } node && s_count?.GetValue(node) is uint count ? count : -1;
        }
        catch (Exception ex) when (ex is FieldAccessException or ArgumentException or TargetException)
        {
            return -1;
        }
    }
}
