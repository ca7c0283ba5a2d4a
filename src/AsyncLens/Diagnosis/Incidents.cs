using System.Globalization;

namespace AsyncLens.Diagnosis;

/// <summary>A cheap sign of trouble the runtime gives while it runs (over EventPipe, or seen from inside).</summary>
internal enum TroubleSignal
{
    /// <summary>The thread pool injected a thread because queued work was not progressing (hill climbing's Starvation), or for threads blocked on tasks (its cooperative blocking).</summary>
    Starvation,

    /// <summary>A pool thread in a blocking wait (a wait handle, <c>Monitor.Wait</c>: what <c>.Result</c> ends in) for longer than <see cref="Incidents.LongWait"/>.</summary>
    LongWait,

    /// <summary>A thread waiting to enter a lock for longer than <see cref="Incidents.LongWait"/>.</summary>
    LockContention,

    /// <summary>Work queued to the thread pool and none completed in a whole sample (a second).</summary>
    QueueStalled,
}

/// <summary>One incident: from the first signal to the last one before <see cref="Incidents.Quiet"/> without any.</summary>
internal sealed class Incident(int number, DateTimeOffset started, TroubleSignal signal, string detail)
{
    public int Number { get; } = number;

    public DateTimeOffset Started { get; } = started;

    /// <summary>The signal that started it.</summary>
    public TroubleSignal Signal { get; } = signal;

    /// <summary>The signal in words (what the runtime said).</summary>
    public string Detail { get; } = detail;

    public DateTimeOffset LastSignal { get; internal set; } = started;

    /// <summary>Signals received while it was open, the first included.</summary>
    public int Signals { get; internal set; } = 1;

    public DateTimeOffset? Ended { get; internal set; }

    /// <summary>The signal's kebab-case name (the JSON's <c>signal</c>).</summary>
    public string SignalName => Incidents.Name(Signal);
}

/// <summary>
/// Turns the runtime's signals into incidents, once each: the one place that decides when trouble starts and ends, for
/// <c>asynclens watch</c> (EventPipe, from outside) and the in-process watchdog alike. An incident opens on the first
/// signal (the caller then runs the doctor once, and <see cref="Dismiss"/>es it when the doctor finds nothing stuck),
/// every later signal extends it, and it ends after <see cref="Quiet"/> without one; waits and lock contentions are signals only once they last <see cref="LongWait"/>
/// (they are followed by thread, started and ended, and judged on <see cref="Tick"/>). No clock of its own: the caller gives the time.
/// </summary>
internal sealed class Incidents
{
    /// <summary>A blocking wait on a pool thread, or a wait for a lock, is a signal once it lasts this long.</summary>
    public static readonly TimeSpan LongWait = TimeSpan.FromSeconds(1);

    /// <summary>An incident ends after this long without a signal.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(10);

    private readonly Dictionary<int, DateTimeOffset> _waits = [];
    private readonly Dictionary<int, DateTimeOffset> _contentions = [];
    private readonly HashSet<int> _poolThreads = [];
    private int _count;
    private DateTimeOffset _heldOffUntil = DateTimeOffset.MinValue;

    /// <summary>The incident in progress, if any.</summary>
    public Incident? Open { get; private set; }

    /// <summary>A signal: the incident it opened (run the doctor), or null when one was already open (it is extended).</summary>
    public Incident? Signal(TroubleSignal signal, DateTimeOffset at, string detail)
    {
        if (at < _heldOffUntil)
            return null;
        if (Open is { } open)
        {
            if (at > open.LastSignal)
                open.LastSignal = at;
            open.Signals++;
            return null;
        }
        return Open = new Incident(++_count, at, signal, detail);
    }

    /// <summary>
    /// The doctor found nothing stuck for the incident just opened: a passing signal (a burst of work on a machine short
    /// of processors makes the pool inject threads for starvation too), not an incident. It is forgotten (its number
    /// too), and signals are ignored for <see cref="Quiet"/>, so that a busy machine is not read again and again.
    /// </summary>
    public void Dismiss(Incident incident, DateTimeOffset at)
    {
        if (Open != incident)
            return;
        Open = null;
        _count--;
        _heldOffUntil = at + Quiet;
    }

    /// <summary>The thread is one of the pool's workers (it raised a worker's event).</summary>
    public void PoolThread(int threadId) => _poolThreads.Add(threadId);

    /// <summary>A blocking wait began on a thread (WaitHandleWaitStart, .NET 9+).</summary>
    public void WaitStarted(int threadId, DateTimeOffset at) => _waits[threadId] = at;

    public void WaitEnded(int threadId) => _waits.Remove(threadId);

    public void ContentionStarted(int threadId, DateTimeOffset at) => _contentions[threadId] = at;

    public void ContentionEnded(int threadId) => _contentions.Remove(threadId);

    /// <summary>A sample of the pool's counters over one interval: items queued at its end, items completed during it.</summary>
    public Incident? PoolSample(long queued, long completed, DateTimeOffset at) =>
        queued > 0 && completed == 0
            ? Signal(TroubleSignal.QueueStalled, at, string.Create(CultureInfo.InvariantCulture, $"{queued:N0} work items queued to the thread pool and none completed in a second"))
            : null;

    /// <summary>
    /// The time passes: waits and contentions that have lasted <see cref="LongWait"/> become signals (the incident they
    /// opened, if any, is returned in <paramref name="opened"/>); the open incident ends after <see cref="Quiet"/> (returned).
    /// </summary>
    public Incident? Tick(DateTimeOffset now, out Incident? opened)
    {
        opened = null;
        var waiting = _waits.Count(w => _poolThreads.Contains(w.Key) && now - w.Value >= LongWait);
        if (waiting > 0)
            opened = Signal(TroubleSignal.LongWait, now, $"{Plural(waiting, "pool thread")} in a blocking wait for more than {LongWait.TotalSeconds:0} s");
        var contending = _contentions.Count(c => now - c.Value >= LongWait);
        if (contending > 0)
            opened ??= Signal(TroubleSignal.LockContention, now, $"{Plural(contending, "thread")} waiting to enter a lock for more than {LongWait.TotalSeconds:0} s");
        if (Open is not { } open || now - open.LastSignal < Quiet)
            return null;
        open.Ended = open.LastSignal;
        Open = null;
        return open;
    }

    public static string Name(TroubleSignal signal) => signal switch
    {
        TroubleSignal.Starvation => "starvation",
        TroubleSignal.LongWait => "long-wait",
        TroubleSignal.LockContention => "lock-contention",
        _ => "queue-stalled",
    };

    private static string Plural(int n, string what) => string.Create(CultureInfo.InvariantCulture, $"{n} {what}{(n == 1 ? "" : "s")}");
}
