using System.Globalization;
using AsyncLens.Diagnosis;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Each thread's use of the processor over a stretch of time, from the kernel's counters (Linux): the time it ran and
/// waited to run (<c>/proc/PID/task/TID/schedstat</c>: a thread that never blocks is one or the other the whole time,
/// however busy the machine) and how often it gave the processor up to wait (<c>voluntary_ctxt_switches</c>). Nothing
/// of the process is stopped or touched.
/// </summary>
internal sealed class ThreadCpuSampler
{
    private readonly int _pid;
    private readonly Dictionary<uint, (long Busy, long Waits)> _start;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    private ThreadCpuSampler(int pid)
    {
        _pid = pid;
        _start = Sample(pid);
    }

    /// <summary>Starts watching the threads of <paramref name="pid"/> (none are watched where /proc has no schedstat).</summary>
    public static ThreadCpuSampler Start(int pid) => new(pid);

    /// <summary>Waits until <paramref name="least"/> has passed since the start, then gives each thread's use since then.</summary>
    public Dictionary<uint, ThreadCpu> Stop(TimeSpan least)
    {
        var left = least - _clock.Elapsed;
        if (left > TimeSpan.Zero)
            Thread.Sleep(left);
        var end = Sample(_pid);
        var over = _clock.Elapsed;
        var result = new Dictionary<uint, ThreadCpu>();
        foreach (var (tid, now) in end)
        {
            if (_start.TryGetValue(tid, out var then))
                result[tid] = new ThreadCpu(Math.Min(1, (now.Busy - then.Busy) / (over.TotalMilliseconds * 1e6)), now.Waits - then.Waits, over);
        }
        return result;
    }

    private static Dictionary<uint, (long Busy, long Waits)> Sample(int pid)
    {
        var sample = new Dictionary<uint, (long, long)>();
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return sample;
        }
        foreach (var task in tasks)
        {
            try
            {
                var sched = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                long waits = -1;
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                        waits = long.Parse(line["voluntary_ctxt_switches:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
                if (sched.Length >= 2 && waits >= 0 && uint.TryParse(Path.GetFileName(task), CultureInfo.InvariantCulture, out var tid))
                    sample[tid] = (long.Parse(sched[0], CultureInfo.InvariantCulture) + long.Parse(sched[1], CultureInfo.InvariantCulture), waits);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // The thread ended meanwhile.
            }
        }
        return sample;
    }
}
