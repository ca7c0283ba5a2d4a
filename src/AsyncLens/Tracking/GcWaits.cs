namespace AsyncLens.Tracking;

/// <summary>
/// Time an app thread waited for a garbage collection it triggered to begin. A thread whose allocation passes the
/// budget triggers a collection (the runtime's <c>GCTriggered</c>, raised on that thread) and waits: with the server GC
/// for the GC's own thread to wake up and suspend the others (<c>GCSuspendEEBegin</c>), then for the collection. The
/// suspension and the pause are every thread's, counted as the process's (<see cref="Detection.Stalls"/>,
/// <see cref="RuntimeTime.GcPauses"/>); the wait before the suspension is the triggering thread's alone, and on a busy
/// machine, where the GC's thread waits for a CPU, it is long: Ledger's Reconcile, 0.3 s of its thread's CPU spent
/// allocating, triggered 19-42 collections and waited 0.63-0.81 s before they began at load 35-40, which its time split
/// counted as blocked (a loop that spun on a CPU, judged not mostly computing and not named).
/// Paired by <see cref="RuntimeEvents"/> (its events come in order: a collection's trigger, then its suspension); read
/// for a stretch that looks slow on the reporter thread, once the events up to its end came (<see cref="RegistryWaits.AwaitDelivered"/>).
/// </summary>
internal static class GcWaits
{
    private const int Capacity = 512;

    private static readonly (long Thread, long From, long To)[] s_waits = new (long, long, long)[Capacity];
    private static readonly Lock s_lock = new();
    private static int s_next;
    private static int s_count;

    /// <summary><paramref name="thread"/> (an OS thread id) waited from <paramref name="from"/> to <paramref name="to"/> for a collection it triggered to begin.</summary>
    public static void Add(long thread, long from, long to)
    {
        if (to <= from)
            return;
        lock (s_lock)
        {
            s_waits[s_next] = (thread, from, to);
            s_next = (s_next + 1) % Capacity;
            s_count = Math.Min(s_count + 1, Capacity);
        }
    }

    /// <summary>
    /// How long <paramref name="thread"/> (an OS thread id) waited for collections it triggered to begin within
    /// [<paramref name="from"/>, <paramref name="to"/>] (DateTime ticks), once the runtime's events up to
    /// <paramref name="to"/> came (at most 200 ms, only once any such wait was seen).
    /// </summary>
    public static long Within(long thread, long from, long to)
    {
        if (Volatile.Read(ref s_count) == 0 || to <= from || thread == 0)
            return 0;
        RegistryWaits.AwaitDelivered(to);
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
    }
}
