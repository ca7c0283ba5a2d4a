using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using AsyncLens.Attribution;
using AsyncLens.Symbols;

namespace AsyncLens.Diagnosis;

/// <summary>
/// <c>ASYNCLENS_WATCH=1</c>: <c>asynclens watch</c> from inside, for hosts where nothing can attach. While the app is
/// healthy it costs one thread that wakes once a second, reads the thread pool's public counters
/// (<see cref="ThreadPool.PendingWorkItemCount"/>, <see cref="ThreadPool.CompletedWorkItemCount"/>) and queues one
/// probe work item, whose delay to run is the pool's own latency: no event source, no listener. <see cref="Incidents"/>
/// judges them as it judges the EventPipe signals. When an incident begins, the culprit is located from the blocked
/// threads themselves (another thread's stack cannot be read in-process): for <see cref="CaptureWindow"/> a TPL
/// listener takes the stack of every thread that begins a blocking wait on a task (TaskWaitBegin, raised on the
/// waiting thread), names the user's code that waited (<see cref="WaitSites"/>, as debug mode does), and the incident is
/// written with those waits grouped by where they were made, most first; with none, it is dismissed (a passing stall).
/// Waits begun before the incident are not seen.
/// </summary>
internal sealed class Watchdog
{
    /// <summary>How long blocking waits are captured after an incident begins.</summary>
    public static readonly TimeSpan CaptureWindow = TimeSpan.FromSeconds(2);

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
        var waits = new ConcurrentDictionary<(string Method, string? At), ConcurrentDictionary<int, byte>>();
        using (new BlockingWaits(waits))
            Thread.Sleep(CaptureWindow);
        var groups = waits.Select(g => (g.Key.Method, g.Key.At, Threads: g.Value.Count)).OrderByDescending(g => g.Threads).ToList();
        if (groups.Count == 0)
        {
            _incidents.Dismiss(incident, DateTimeOffset.UtcNow);
            return;
        }
        var text = $"{Doctor.Plural(groups.Sum(g => g.Threads), "thread")} began a blocking wait on a task in the {CaptureWindow.TotalSeconds:0} s after it began: "
            + string.Join("; ", groups.Select(g => $"{g.Threads} in `{g.Method}`{(g.At is null ? "" : " at " + g.At)}"));
        Write(w => w.Write(string.Create(CultureInfo.InvariantCulture,
            $"asynclens watch: incident {incident.Number} began {Time(incident.Started)}: {incident.SignalName}: {incident.Detail}\n"
            + $"asynclens watch: incident {incident.Number}: {text}\n")));
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

    /// <summary>TaskWaitBegin, synchronous ones only, on the thread that waits: where the user's code made the wait.</summary>
    private sealed class BlockingWaits : EventListener
    {
        private const int TaskWaitBegin = 10;
        private const int Synchronous = 1;

        // Null while the base constructor enables the TPL source (its events may come before this constructor's body runs).
        private readonly ConcurrentDictionary<(string, string?), ConcurrentDictionary<int, byte>>? _waits;

        public BlockingWaits(ConcurrentDictionary<(string, string?), ConcurrentDictionary<int, byte>> waits) => _waits = waits;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == Tracking.TplListener.SourceName)
                EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)0x1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventId != TaskWaitBegin || e.Payload is not { Count: >= 4 } p || Convert.ToInt32(p[3], CultureInfo.InvariantCulture) != Synchronous
                || _waits is not { } waits)
                return;
            var stack = new StackTrace(1, false).GetFrames().Select(f => (f.GetMethod(), f.GetILOffset())).ToList();
            if (WaitSites.Waiter(stack, null) is not { } waiter)
                return;
            var at = MethodSymbols.LineAt(waiter.Method, waiter.ILOffset)?.ToString();
            waits.GetOrAdd((MethodNames.Format(waiter.Method), at), _ => new()).TryAdd(Environment.CurrentManagedThreadId, 0);
        }
    }
}
