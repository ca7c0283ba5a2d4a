using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// The engine's one timer thread (a plain thread: a timer or task would raise the very events it
/// watches). Every tick it looks at running steps and waits; after a GC it looks for pending boxes
/// that died.
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
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;

    public Watchdog(DetectionSettings settings, SlowSteps steps, BlockingWaits waits, UnobservedExceptions faults, PendingCollected collected, Action<Exception> onError)
    {
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
        while (!_stop.Wait(_settings.TickPeriod))
        {
            try
            {
                var now = DetectionSettings.Now;
                _steps.Tick(now);
                _waits.Tick(now);
                _faults.Tick(now);
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
}
