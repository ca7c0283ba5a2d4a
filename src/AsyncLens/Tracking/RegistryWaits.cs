using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking;

/// <summary>
/// Time the app's threads waited for the runtime's registry of active tasks (<c>Task.s_currentActiveTasks</c>,
/// <see cref="Runtime.TaskRegistry"/>): a lock that exists only because AsyncLens switched the registry on. Every async
/// method created adds itself under it and every one completed removes itself, so a step creating thousands of tasks
/// contends with the pool threads completing them; when the machine is busy, a holder preempted with the lock held makes
/// the others wait for its next time slice (measured on two cores at load 25: 50-150 ms per wait, a step creating
/// 10,000 tasks losing 100 ms to it). Such time is AsyncLens's, like its handlers' (<see cref="EngineTime"/>).
/// <para>
/// Measured from the runtime's contention events (<c>ContentionStart</c>, whose object is the registry, and
/// <c>ContentionStop</c>, with the wait's duration), which come on the runtime's event thread milliseconds later: a slow
/// step is checked against them on the reporter thread (<see cref="Attribution.StretchEvidence.WithoutRegistryWaits"/>).
/// </para>
/// </summary>
internal static class RegistryWaits
{
    private const int Capacity = 1024;

    private static readonly (long Thread, long From, long To)[] s_waits = new (long, long, long)[Capacity];
    private static readonly Lock s_lock = new();

    // The runtime's event thread only: threads waiting on the registry now, from when.
    private static readonly Dictionary<long, long> s_open = [];

    private static object? s_registry;
    private static int s_next;
    private static int s_count;
    private static long s_deliveredUpTo;

    /// <summary>The lock to watch (the registry's dictionary, which the runtime locks on itself); null: none.</summary>
    public static void Watch(object? registry) => Volatile.Write(ref s_registry, registry);

    /// <summary>A runtime event stamped <paramref name="stamp"/> was delivered (every event the listener gets, in order).</summary>
    public static void Delivered(long stamp) => Volatile.Write(ref s_deliveredUpTo, stamp);

    /// <summary>ContentionStart on <paramref name="thread"/>: a wait for the lock of the object at <paramref name="objectAddress"/>.</summary>
    public static void OnStart(long thread, long objectAddress, long stamp)
    {
        if (Volatile.Read(ref s_registry) is { } registry && objectAddress != 0 && objectAddress == AddressOf(registry))
            s_open[thread] = stamp;
    }

    /// <summary>ContentionStop on <paramref name="thread"/>, after waiting <paramref name="durationTicks"/>.</summary>
    public static void OnStop(long thread, long durationTicks, long stamp)
    {
        if (!s_open.Remove(thread, out var started))
            return;
        var from = durationTicks > 0 ? stamp - durationTicks : started;
        lock (s_lock)
        {
            s_waits[s_next] = (thread, from, stamp);
            s_next = (s_next + 1) % Capacity;
            s_count = Math.Min(s_count + 1, Capacity);
        }
    }

    /// <summary>
    /// How long <paramref name="thread"/> (an OS thread id) waited for the registry within [<paramref name="from"/>,
    /// <paramref name="to"/>] (DateTime ticks). Waits for the runtime's events up to <paramref name="to"/> to come, at
    /// most 200 ms (on the reporter thread, for a step that looks slow), once any contention was seen.
    /// </summary>
    public static long Within(long thread, long from, long to)
    {
        if (Volatile.Read(ref s_count) == 0 || to <= from)
            return 0;
        var deadline = Environment.TickCount64 + 200;
        while (Volatile.Read(ref s_deliveredUpTo) < to && Environment.TickCount64 < deadline)
            Thread.Sleep(5);
        long total = 0;
        lock (s_lock)
        {
            for (var i = 0; i < s_count; i++)
            {
                var (waiter, start, end) = s_waits[i];
                if (waiter == thread)
                    total += Math.Max(0, Math.Min(end, to) - Math.Max(start, from));
            }
        }
        return total;
    }

    /// <summary>Forgets every wait (tests).</summary>
    internal static void Clear()
    {
        lock (s_lock)
            s_next = s_count = 0;
        s_open.Clear();
        Volatile.Write(ref s_deliveredUpTo, 0);
    }

    /// <summary>
    /// The object's address now (it may move in a compacting GC; the registry, long-lived, rarely does): what the
    /// runtime's events call the lock's associated object.
    /// </summary>
    internal static long AddressOf(object o) => Unsafe.As<object, nint>(ref o);
}
