using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Diagnosis;

/// <summary>
/// <c>ASYNCLENS_WATCH=1</c>: <c>asynclens watch</c> from inside, for hosts where nothing can attach. While the app is
/// healthy it costs one thread that wakes once a second, reads the thread pool's public counters
/// (<see cref="ThreadPool.PendingWorkItemCount"/>, <see cref="ThreadPool.CompletedWorkItemCount"/>) and queues one
/// probe work item, whose delay to run is the pool's own latency: no event source, no listener. <see cref="Incidents"/>
/// judges them as it judges the EventPipe signals. When an incident begins, the culprit is located from the waits that
/// begin meanwhile (another thread's stack cannot be read in-process): for <see cref="CaptureWindow"/> <see cref="PoolWaits"/>
/// listens to the TPL's and the runtime's wait events (a blocking wait on a task with its stack, a lock's contention with
/// its holder, a <c>Monitor.Wait</c>), and the incident is written with the pool's blocked workers judged by the doctor's
/// rule on the pool's figures (<see cref="PoolFigures"/>, as the console's <c>pool</c>), grouped in the doctor's words;
/// with no wait seen, it is dismissed (a passing stall). Waits begun before the incident are not seen.
/// </summary>
internal sealed class Watchdog
{
    /// <summary>How long blocking waits are captured after an incident begins.</summary>
    public static readonly TimeSpan CaptureWindow = PoolWaits.Window;

    private static readonly TimeSpan s_period = TimeSpan.FromSeconds(1);

    private readonly Incidents _incidents = new();
    private readonly TextWriter _output;
    private readonly Thread _thread;
    private long _probeQueuedAt;
    private long _probeRanAt;

    private Watchdog(TextWriter output)
    {
        _output = output;
        _thread = new Thread(Run) { IsBackground = true, Name = "asynclens watchdog" };
    }

    public static void Start(TextWriter output) => new Watchdog(output)._thread.Start();

    private void Run()
    {
        var completed = ThreadPool.CompletedWorkItemCount;
        while (true)
        {
            QueueProbe();
            Thread.Sleep(s_period);
            var now = DateTimeOffset.UtcNow;
            var done = ThreadPool.CompletedWorkItemCount;
            var queued = ThreadPool.PendingWorkItemCount;
            var opened = _incidents.PoolSample(queued, done - completed, now);
            completed = done;
            // The probe queued a second ago has not run: the pool's queue holds work for as long.
            if (Volatile.Read(ref _probeRanAt) < Volatile.Read(ref _probeQueuedAt))
            {
                opened ??= _incidents.Signal(TroubleSignal.QueueStalled, now, string.Create(CultureInfo.InvariantCulture,
                    $"a work item queued to the thread pool {Stopwatch.GetElapsedTime(_probeQueuedAt).TotalSeconds:0.0} s ago has not run ({ThreadPool.ThreadCount} pool threads, {queued:N0} work items queued)"));
            }
            if (opened is not null)
                Capture(opened);
            if (_incidents.Tick(now, out _) is { } ended)
            {
                var line = new StringWriter();
                IncidentReport.WriteEndedText(line, ended);
                Write(w => w.Write($"asynclens watch: {line.ToString().TrimEnd('\n')}\n"));
            }
        }
    }

    // One probe in flight at a time: a late one is not queued again (the queue would only grow).
    private void QueueProbe()
    {
        if (Volatile.Read(ref _probeRanAt) < Volatile.Read(ref _probeQueuedAt))
            return;
        Volatile.Write(ref _probeQueuedAt, Stopwatch.GetTimestamp());
        ThreadPool.UnsafeQueueUserWorkItem(static w => Volatile.Write(ref w._probeRanAt, Stopwatch.GetTimestamp()), this, preferLocal: false);
    }

    // Written only when blocking waits were caught: a stall with none (a machine short of processors, a long GC) passes.
    private void Capture(Incident incident)
    {
        List<PoolWaitGroup> groups;
        using (var waits = PoolWaits.Listen())
        {
            Thread.Sleep(CaptureWindow);
            groups = waits.Groups();
        }
        if (groups.Count == 0)
        {
            _incidents.Dismiss(incident, DateTimeOffset.UtcNow);
            return;
        }
        var text = PoolWaits.Describe(PoolFigures.Read(), groups, CaptureWindow);
        var unplaced = groups.Any(g => !g.Placed) ? $"asynclens watch: incident {incident.Number}: {PoolWaits.NoPlace(Environment.ProcessId)}\n" : "";
        Write(w => w.Write(string.Create(CultureInfo.InvariantCulture,
            $"asynclens watch: incident {incident.Number} began {Time(incident.Started)}: {incident.SignalName}: {incident.Detail}\n"
            + $"asynclens watch: incident {incident.Number}: {text}\n{unplaced}")));
    }

    private void Write(Action<TextWriter> write)
    {
        lock (_output)
        {
            write(_output);
            _output.Flush();
        }
    }

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
