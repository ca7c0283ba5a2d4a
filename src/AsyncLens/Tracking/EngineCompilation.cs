namespace AsyncLens.Tracking;

/// <summary>
/// Code compiled by AsyncLens's reporter thread (and its watchdog, judging a hung step while the process warms up), and
/// when: building its first reports compiles the code that reads symbols and IL (tens of milliseconds), and that compilation is in the process's figure
/// (<c>JitInfo.GetCompilationTime()</c>) that tells whether the app was warming up while a step ran. The reporter
/// records each build's compilation with its start and end; <see cref="During"/> gives the part of it that fell within
/// a stretch (pro rata of the overlap), to be taken off the process's figure for that stretch. The reporter builds one
/// report at a time, after the stretch it reports on ended: every build that overlapped the stretch is recorded by
/// then. The last <see cref="Capacity"/> builds are kept.
/// </summary>
internal static class EngineCompilation
{
    private const int Capacity = 64;

    private static readonly (long Start, long End, long Jit)[] s_builds = new (long, long, long)[Capacity];
    private static readonly Lock s_lock = new();
    private static int s_next;

    /// <summary>Runs <paramref name="build"/> on the calling (AsyncLens) thread, recording what it compiled.</summary>
    public static T Measure<T>(Func<T> build)
    {
        var start = DateTime.UtcNow.Ticks;
        var jit = RuntimeTime.JitOnThisThread;
        try
        {
            return build();
        }
        finally
        {
            Record(start, DateTime.UtcNow.Ticks, RuntimeTime.JitOnThisThread - jit);
        }
    }

    internal static void Record(long start, long end, long jit)
    {
        if (jit <= 0)
            return;
        lock (s_lock)
        {
            s_builds[s_next % Capacity] = (start, end, jit);
            s_next++;
        }
    }

    /// <summary>AsyncLens's compilation between two times (DateTime ticks).</summary>
    public static long During(long from, long to)
    {
        long total = 0;
        lock (s_lock)
        {
            for (var i = Math.Max(0, s_next - Capacity); i < s_next; i++)
            {
                var (start, end, jit) = s_builds[i % Capacity];
                var overlap = Math.Min(end, to) - Math.Max(start, from);
                if (overlap <= 0)
                    continue;
                total += end - start <= 0 ? jit : (long)(jit * Math.Min(1.0, (double)overlap / (end - start)));
            }
        }
        return total;
    }

    /// <summary>Forgets every build (tests).</summary>
    internal static void Clear()
    {
        lock (s_lock)
            s_next = 0;
    }
}
