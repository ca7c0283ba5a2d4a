namespace AsyncLens.Detection;

/// <summary>
/// Times the whole process stood still, which no thread's own figures show. Two sources:
/// <list type="bullet">
/// <item>the runtime's own suspensions of every managed thread (a GC, or patching code), from its events
/// (<see cref="Tracking.RuntimeEvents"/>): exact, from the start of the suspension, so including the wait for
/// every thread to reach a safe point, which <see cref="GC.GetTotalPauseDuration"/> leaves out and which, on a busy
/// machine, is most of it (a thread preempted while running managed code holds up all the others: measured 100-250 ms
/// on two cores shared by a dozen processes, against a few ms of collection);</item>
/// <item>the watchdog's sleep: it sleeps a known period each tick, and when it wakes up much later than that, and
/// neither its own wait for a CPU nor a GC pause nor a suspension explains it, every thread was likely held up as
/// long (a virtual CPU taken away by the hypervisor, the machine swapping, the process stopped).</item>
/// </list>
/// Such time does not make a step slow: like GC pauses, it is taken off before deciding (a step blocked in a call of
/// its own loses nothing to it, so the duration reported stays as measured).
/// Written by the watchdog and the runtime's event thread; read, rarely, for a step that looks slow.
/// </summary>
internal sealed class Stalls
{
    private const int Capacity = 64;
    private const int SuspensionCapacity = 256;
    private const long NoGc = -1;

    // Lateness below this is the scheduler's ordinary jitter, not a stall.
    private static readonly long s_minimum = TimeSpan.FromMilliseconds(20).Ticks;

    // Each: the watchdog's interval between two wake-ups, and how much of it the process stood still.
    private readonly (long From, long To, long Ticks)[] _stalls = new (long, long, long)[Capacity];
    private readonly (long From, long To)[] _suspensions = new (long, long)[SuspensionCapacity];
    private readonly Lock _lock = new();
    private int _next;
    private int _count;
    private int _nextSuspension;
    private int _suspensionCount;
    private long _lastWake = long.MaxValue;
    private long _period;
    private long _restartedGc = NoGc;

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
    /// The runtime suspended every managed thread from <paramref name="from"/> to <paramref name="to"/>; for a GC,
    /// <paramref name="gcIndex"/> is its index (<see cref="GCMemoryInfo.Index"/>), else -1.
    /// </summary>
    public void OnSuspension(long from, long to, long gcIndex)
    {
        if (to <= from)
            return;
        lock (_lock)
        {
            _suspensions[_nextSuspension] = (from, to);
            _nextSuspension = (_nextSuspension + 1) % SuspensionCapacity;
            _suspensionCount = Math.Min(_suspensionCount + 1, SuspensionCapacity);
        }
        if (gcIndex > Volatile.Read(ref _restartedGc))
            Volatile.Write(ref _restartedGc, gcIndex); // after the interval is in: CatchUp waits for this
    }

    /// <summary>
    /// Called by a thread whose step looks slow, at <paramref name="now"/>. A stall ends for every thread at once,
    /// and the step's own thread may get to its end before the watchdog wakes up to measure it, or before the
    /// runtime's events about the last GC arrive (they come on a thread of the runtime's, milliseconds later): wait
    /// for them a little (at most 200 ms, and only here: a step that ran past the threshold).
    /// </summary>
    /// <param name="now">When the step ended.</param>
    /// <param name="atExit">At process exit, the runtime's events are waited for even if none has come yet (the process
    /// may end within milliseconds of its first GC); on an app thread, only once they are known to come.</param>
    public void CatchUp(long now, bool atExit = false)
    {
        var lastGc = SeesSuspensions || atExit ? GC.GetGCMemoryInfo(GCKind.Any).Index : NoGc;
        var deadline = DetectionSettings.Now + TimeSpan.TicksPerMillisecond * 200;
        while ((now - Volatile.Read(ref _lastWake) > 2 * _period || lastGc > Volatile.Read(ref _restartedGc))
            && DetectionSettings.Now < deadline)
            Thread.Sleep(1);
    }

    /// <summary>True once the runtime's events about GCs arrive: <see cref="CatchUp"/> may wait for them.</summary>
    private bool SeesSuspensions => Volatile.Read(ref _restartedGc) != NoGc;

    /// <summary>
    /// Time within [<paramref name="start"/>, <paramref name="end"/>] in which the whole process stood still: the
    /// runtime's suspensions in it (at least <paramref name="gcPauses"/>, the GC pause time the runtime counted
    /// meanwhile, in case their events are not in yet), plus what the watchdog found unexplained beyond them (as much
    /// of each stall as the two intervals can share: when in its interval the process stood still is not known, and
    /// a step is given the benefit).
    /// </summary>
    public long During(long start, long end, long gcPauses)
    {
        if (Volatile.Read(ref _count) == 0 && Volatile.Read(ref _suspensionCount) == 0)
            return Math.Max(0, gcPauses);
        lock (_lock)
        {
            var suspended = SuspendedWithin(start, end);
            long stalled = 0;
            for (var i = 0; i < _count; i++)
            {
                var (from, to, ticks) = _stalls[i];
                var shared = Math.Min(ticks, Overlap(from, to, start, end));
                // The watchdog's unexplained lateness is the suspensions its sleep held, when their events came too late for it.
                stalled += Math.Max(0, shared - SuspendedWithin(Math.Max(from, start), Math.Min(to, end)));
            }
            return Math.Max(gcPauses, suspended) + stalled;
        }
    }

    /// <summary>Suspensions within [<paramref name="start"/>, <paramref name="end"/>] (call under the lock).</summary>
    private long SuspendedWithin(long start, long end)
    {
        long total = 0;
        for (var i = 0; i < _suspensionCount; i++)
            total += Overlap(_suspensions[i].From, _suspensions[i].To, start, end);
        return total;
    }

    private static long Overlap(long from, long to, long start, long end) => Math.Max(0, Math.Min(to, end) - Math.Max(from, start));
}
