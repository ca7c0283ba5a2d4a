using Microsoft.Win32.SafeHandles;

namespace AsyncLens.Tracking;

/// <summary>
/// Other threads' scheduler figures (<see cref="RunQueue.Times(int)"/>) read through handles kept open, one per thread:
/// the watchdog reads every thread each tick (on the async events alone, every thread of the process, 40 times a
/// second), and opening a thread's schedstat costs ~15 µs where reading an open one costs ~1 µs. Measured on the web
/// benchmark on .NET 11 (docs/performance.md): the watchdog's thread spent ~2 µs of CPU per request opening them. A
/// handle whose thread exited reads nothing and is closed. A thread that could not be opened (it exited: the async events
/// keep naming threads that ran async code once) is not tried again each tick, which threw and caught an exception
/// each time, until <see cref="KeepOnly"/> lists it alive again (its id reused). Used by one thread at a time (the
/// watchdog's tick).
/// </summary>
internal sealed class SchedReaders : IDisposable
{
    /// <summary>A bound, not a working size: threads come and go.</summary>
    public const int MaxOpen = 256;

    // Null: the thread could not be opened.
    private readonly Dictionary<int, SafeFileHandle?> _open = [];

    /// <summary>How many handles are open now.</summary>
    public int Open => _open.Values.Count(h => h is not null);

    /// <summary>
    /// The thread's time on a CPU and waiting for one, as <see cref="RunQueue.Times(int)"/> reads them. <paramref name="alive"/>:
    /// the caller knows the thread runs (it has a tracker), so a failed open of the same id is tried again.
    /// </summary>
    public SchedTimes Times(int osThreadId, bool alive = false)
    {
        if (osThreadId == 0)
            return SchedTimes.Unavailable;
        if (!_open.TryGetValue(osThreadId, out var handle) || handle is null && alive)
        {
            if (_open.Count >= MaxOpen)
                Close(_open.Keys.ToArray());
            _open[osThreadId] = handle = RunQueue.OpenThread(osThreadId);
        }
        if (handle is null)
            return SchedTimes.Unavailable;
        var (onCpu, waited) = RunQueue.ReadBoth(handle);
        if (onCpu == RunQueue.Unavailable)
        {
            handle.Dispose(); // the thread exited
            _open[osThreadId] = null;
        }
        return new SchedTimes(onCpu, waited, RunQueue.Unavailable);
    }

    /// <summary>
    /// Closes the handles of threads not in <paramref name="alive"/> (the process's threads, listed anew), and forgets the
    /// failed opens of those in it (an id reused by a new thread).
    /// </summary>
    public void KeepOnly(IReadOnlyCollection<ulong> alive) =>
        Close([.. _open.Where(e => e.Value is null == alive.Contains((ulong)e.Key)).Select(e => e.Key)]);

    public void Dispose() => Close(_open.Keys.ToArray());

    private void Close(int[] ids)
    {
        foreach (var id in ids)
        {
            if (_open.Remove(id, out var handle))
                handle?.Dispose();
        }
    }
}
