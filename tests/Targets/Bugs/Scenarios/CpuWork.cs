using System.Diagnostics;

namespace Bugs.Scenarios;

/// <summary>
/// CPU-bound work of a known size: spins until this thread has used <c>cpu</c> of processor time
/// (Linux schedstat), so it is the same work on an idle machine and a busy one.
/// </summary>
public static class CpuWork
{
    public static long Spin(TimeSpan cpu)
    {
        var clock = Stopwatch.StartNew();
        var start = ThreadCpu();
        long acc = 0;
        while (start is null ? clock.Elapsed < cpu : ThreadCpu() - start < cpu)
        {
            for (var i = 0; i < 10_000; i++)
                acc += i ^ acc;
        }
        return acc;
    }

    /// <summary>
    /// How many rounds of <paramref name="run"/> (which runs the rounds it is given) take <paramref name="cpu"/> of this
    /// thread's processor time, measured on a sample of at least 20 ms: for a loop that must call nothing while it runs.
    /// </summary>
    public static long Rounds(TimeSpan cpu, Func<long, long> run)
    {
        var sample = TimeSpan.FromMilliseconds(20);
        for (long rounds = 1 << 16; ; rounds *= 2)
        {
            var clock = Stopwatch.StartNew();
            var start = ThreadCpu();
            GC.KeepAlive(run(rounds));
            var spent = start is { } s && ThreadCpu() is { } end ? end - s : clock.Elapsed;
            if (spent >= sample)
                return (long)(rounds * (cpu / spent));
        }
    }

    private static TimeSpan? ThreadCpu()
    {
        try
        {
            var text = File.ReadAllText("/proc/thread-self/schedstat");
            return TimeSpan.FromTicks(long.Parse(text[..text.IndexOf(' ')], System.Globalization.CultureInfo.InvariantCulture) / 100);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
