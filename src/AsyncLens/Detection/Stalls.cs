namespace AsyncLens.Detection;

/// <summary>
/// Times the whole process stood still for reasons no thread's own figures show: a virtual CPU taken away by the
/// hypervisor, the machine swapping, the process stopped. The watchdog sleeps a known period each tick; when it
/// wakes up much later than that, and neither its own wait for a CPU nor a GC pause explains it, every thread was
/// likely held up as long. Such time does not make a step slow: like GC pauses, it is taken off before deciding
/// (a step blocked in a call of its own loses nothing to it, so the duration reported stays as measured).
/// Written by the watchdog only; read, rarely, for a step that looks slow.
/// </summary>
internal sealed class Stalls
{
    private const int Capacity = 64;

    // Lateness below this is the scheduler's ordinary jitter, not a stall.
    private static readonly long s_minimum = TimeSpan.FromMilliseconds(20).Ticks;

    // Each: the watchdog's interval between two wake-ups, and how much of it the process stood still.
    private readonly (long From, long To, long Ticks)[] _stalls = new (long, long, long)[Capacity];
    private readonly Lock _lock = new();
    private int _next;
    private int _count;
    private long _lastWake = long.MaxValue;
    private long _period;

    /// <summary>Set by the watchdog: how long it sleeps between ticks.</summary>
    public long Period
    {
        get => _period;
        set => _period = value;
    }

    /// <summary>
    /// The watchdog woke at <paramref name="end"/>, having last woken at <paramref name="start"/> and slept
    /// <paramref name="period"/> since; <paramref name="explained"/> is its own time in between (on a CPU, waiting for
    /// one, GC pauses; long.MaxValue where it cannot tell).
    /// </summary>
    public void OnWake(long start, long end, long period, long explained)
    {
        var unexplained = end - start - period - Math.Max(0, explained);
        if (unexplained >= s_minimum)
        {
            lock (_lock)
            {
                _stalls[_next] = (start, end, unexplained);
                _next = (_next + 1) % Capacity;
                _count = Math.Min(_count + 1, Capacity);
            }
        }
        Volatile.Write(ref _lastWake, end); // after the stall is in: CatchUp waits for this
    }

    /// <summary>
    /// Called by a thread whose step looks slow, at <paramref name="now"/>. A stall ends for every thread at once,
    /// and the step's own thread may get to its end before the watchdog wakes up to measure it: when the watchdog
    /// is overdue, wait for it a little (at most 200 ms, and only here: a step that ran past the threshold).
    /// </summary>
    public void CatchUp(long now)
    {
        var deadline = DetectionSettings.Now + TimeSpan.TicksPerMillisecond * 200;
        while (now - Volatile.Read(ref _lastWake) > 2 * _period && DetectionSettings.Now < deadline)
            Thread.Sleep(1);
    }

    /// <summary>
    /// Stalled time within [<paramref name="start"/>, <paramref name="end"/>]: as much of each stall as the two
    /// intervals can share (when in its interval the process stood still is not known; a step is given the benefit).
    /// </summary>
    public long During(long start, long end)
    {
        if (Volatile.Read(ref _count) == 0)
            return 0;
        long total = 0;
        lock (_lock)
        {
            for (var i = 0; i < _count; i++)
            {
                var (from, to, ticks) = _stalls[i];
                total += Math.Min(ticks, Math.Max(0, Math.Min(to, end) - Math.Max(from, start)));
            }
        }
        return total;
    }
}
