using AsyncLens.Detection;
using AsyncLens.Inventory;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens;

/// <summary>
/// Debug mode's life around the app's: findings made outside the detectors, its own failures (it switches itself off,
/// never the app), the process's exit (open steps and held buffers judged, reports flushed) and disposal.
/// </summary>
internal sealed partial class DebugEngine
{
    /// <summary>A finding made outside the detectors (see <see cref="Forgotten"/>), written like theirs.</summary>
    public void Report(Finding finding) => _writer.Add(finding);

    public void Fail(Exception exception)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0)
            return;
        _writer.Add(new EngineFailure(exception));
        ThreadPool.UnsafeQueueUserWorkItem(static engine => engine.Dispose(), this, preferLocal: false);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        // As at exit: Disable() may run inside the continuation of a slow step whose end was not raised yet.
        FlushEventSteps(DetectionSettings.Now);
        _steps.FlushOpenSteps(DetectionSettings.Now);
        ContextEntries.Stop();
        _listener?.Dispose();
        _registry.EndsSeen = false;
        _eventSteps?.Dispose();
        ThreadTracker.KeepsSchedHistory = false;
        System.Runtime.Loader.AssemblyLoadContext.Default.Unloading -= OnUnloading;
        _endpoints.Dispose();
        _runtimeEvents.Dispose();
        RegistryWaits.Watch(null);
        _tracking.Keep = static (_, task) => !task.IsCompleted;
        AppDomain.CurrentDomain.FirstChanceException -= OnFirstChanceException;
        TaskScheduler.UnobservedTaskException -= _faults.OnUnobservedTaskException;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
        _watchdog.Dispose();
        ThreadTracker.ResetAll();
        _faults.Flush();
        _writer.Dispose();
    }

    private void OnFirstChanceException(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
    {
        if (ThreadTracker.IsEngineThread)
            return;
        var tracker = ThreadTracker.Existing;
        if (tracker?.Top is { } top)
            top.Threw = true;
        _faults.OnFirstChance(e.Exception);
        _lost.OnFirstChance(e.Exception, tracker);
        _cleanups.OnFirstChance(e.Exception, tracker);
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        // First the watchdog: a finding it is building must reach the writer before the writer is flushed.
        _watchdog.Dispose();
        var now = DetectionSettings.Now;
        FlushEventSteps(now);
        _steps.FlushOpenSteps(now);
        // A collection the app asked for just before it ended: its event may still be on its way.
        _stalls.CatchUp(now, atExit: true);
        _collected.Settle();
        _faults.Flush();
        _writer.FlushAtExit();
        // Reports that could not be written are a failure the exit code must carry (a CI job reading the file
        // would otherwise see none and pass). The app's own failure code is left as it is.
        if (_writer.LostReports > 0 && Environment.ExitCode == 0)
            Environment.ExitCode = ReportWriter.LostReportsExitCode;
    }

    // At exit the runtime disables every event listener before it raises ProcessExit: the steps still in the async
    // events' buffers are delivered, and judged, just before (the default context's Unloading comes first).
    private void OnUnloading(System.Runtime.Loader.AssemblyLoadContext context) => FlushEventSteps(DetectionSettings.Now);

    // The steps the runtime's async events hold in its threads' buffers: delivered and judged now, before the end.
    private void FlushEventSteps(long now)
    {
        if (_eventSteps is null)
            return;
        _eventSteps.Flush();
        _eventSteps.Expire(now, all: true);
        _steps.JudgeEventSteps(now, all: true);
    }

    // Standard error is not named (nothing can be said when it fails); a file, or a writer given in code, is.
    private static string? OutputName(AsyncDebugOptions options, TextWriter output) =>
        options.OutputName ?? (ReferenceEquals(output, Console.Error) ? null : "the report output (AsyncDebugOptions.Output)");

    private void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e)
    {
        if (!ThreadTracker.IsEngineThread)
            _voids.OnUnhandled(e.ExceptionObject);
        OnProcessExit(sender, e);
    }
}
