using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// The engine's one timer thread (a plain thread: a timer or task would raise the very events it
/// watches). Every tick it looks at running steps and waits; after a GC it looks for pending boxes
/// that died. How late it wakes up tells when the whole process stood still (<see cref="Stalls"/>).
/// </summary>
internal sealed class Watchdog : IDisposable
{
    private const long SweepTicks = TimeSpan.TicksPerSecond;
    private const long ScanTicks = TimeSpan.TicksPerSecond / 4;

    private readonly DetectionSettings _settings;
    private readonly SlowSteps _steps;
    private readonly BlockingWaits _waits;
    private readonly UnobservedExceptions _faults;
    private readonly PendingCollected _collected;
    private readonly Action<Exception> _onError;
    private readonly Stalls _stalls;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;

    public Watchdog(DetectionSettings settings, SlowSteps steps, BlockingWaits waits, UnobservedExceptions faults, PendingCollected collected, Stalls stalls, Action<Exception> onError)
    {
        _stalls = stalls;
        _settings = settings;
        _steps = steps;
        _waits = waits;
        _faults = faults;
        _collected = collected;
        _onError = onError;
        _thread = new Thread(Run) { IsBackground = true, Name = "AsyncLens watchdog" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Set();
        if (Thread.CurrentThread != _thread)
            _thread.Join(TimeSpan.FromSeconds(2));
    }

    private void Run()
    {
        ThreadTracker.IsEngineThread = true;
        var lastSweep = DetectionSettings.Now;
        var lastScan = lastSweep;
        var gcCount = GC.CollectionCount(0);
        using var schedstat = RunQueue.OpenOwn();
        var period = _settings.TickPeriod.Ticks;
        _stalls.Period = period;
        while (true)
        {
            // Only the sleep is measured: in its tick's work this thread may wait on locks (type loading, another
            // thread's compilation), which no other thread's step has to share.
            var (asleep, own) = (DetectionSettings.Now, OwnTime(schedstat));
            if (_stop.Wait(_settings.TickPeriod))
                return;
            try
            {
                // The period asleep, plus this thread's own time meanwhile (on a CPU, waiting for one, stopped by a
                // GC): the rest is time the process stood still.
                var now = DetectionSettings.Now;
                var ownNow = OwnTime(schedstat);
                _stalls.OnWake(asleep, now, period, own < 0 || ownNow < 0 ? long.MaxValue : ownNow - own);
                _steps.Tick(now);
                _waits.Tick(now);
                _faults.Tick(now);
                _collected.Settle();
                if (now - lastSweep >= SweepTicks)
                {
                    lastSweep = now;
                    ThreadTracker.Prune();
                }
                var gcs = GC.CollectionCount(0);
                if (gcs != gcCount && now - lastScan >= ScanTicks)
                {
                    gcCount = gcs;
                    lastScan = now;
                    _collected.Scan();
                }
            }
            catch (Exception ex)
            {
                _onError(ex);
                return;
            }
        }
    }

    // This thread's time on a CPU, waiting for one, and in GC pauses, in ticks; -1 where schedstat is not readable.
    private static long OwnTime(Microsoft.Win32.SafeHandles.SafeFileHandle? schedstat)
    {
        if (schedstat is null)
            return -1;
        var (onCpu, waited) = RunQueue.ReadBoth(schedstat);
        return onCpu < 0 || waited < 0 ? -1 : onCpu + waited + RuntimeTime.GcPauses;
    }
}
