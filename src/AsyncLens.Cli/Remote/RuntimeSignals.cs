using System.Diagnostics.Tracing;
using AsyncLens.Diagnosis;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The runtime's cheap signals of trouble, over an EventPipe session on a running process (nothing of AsyncLens in
/// it, nothing stopped): the thread pool's injections and their reason (keyword Threading, informational: a handful a
/// second at most; the keyword also brings a pool worker's going idle and hill climbing's samples, ~90 a second on
/// bench/'s order API under load, the most of what watching costs it per request besides the session's fixed cost:
/// docs/performance.md), blocking waits (.NET 9+, keyword WaitHandle: one event per wait that blocks, rare in async code),
/// lock contention (keyword Contention: one per contended entry), and the pool's queue length and completed items (the
/// System.Runtime counters, once a second). No stacks, no rundown. Each is fed to <see cref="Incidents"/>, on the
/// reader's thread, under a lock shared with <see cref="Tick"/>.
/// </summary>
internal sealed class RuntimeSignals : IDisposable
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const long ContentionKeyword = 0x4000;
    private const long ThreadingKeyword = 0x10000;
    private const long WaitHandleKeyword = 0x40000000000;

    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Incidents _incidents = new();
    private readonly Action<Incident> _opened;
    private readonly Thread _reader;
    private readonly Dictionary<string, long> _byName = new(StringComparer.Ordinal);
    private long? _completedBefore;
    private long _queued;
    private bool _disposed;

    private RuntimeSignals(EventPipeSession session, Action<Incident> opened)
    {
        _session = session;
        _opened = opened;
        _source = new EventPipeEventSource(session.EventStream);
        var clr = _source.Clr;
        clr.ThreadPoolWorkerThreadAdjustmentAdjustment += e =>
        {
            if (e.Reason is ThreadAdjustmentReason.Starvation or ThreadAdjustmentReason.CooperativeBlocking)
            {
                Signal(TroubleSignal.Starvation, e.TimeStamp, e.Reason == ThreadAdjustmentReason.Starvation
                    ? $"the thread pool added a thread (now {e.NewWorkerThreadCount}) because queued work was not progressing"
                    : $"the thread pool added a thread (now {e.NewWorkerThreadCount}) for threads blocked on tasks");
            }
        };
        clr.ThreadPoolWorkerThreadStart += e => Locked(() => _incidents.PoolThread(e.ThreadID));
        clr.ThreadPoolWorkerThreadWait += e => Locked(() => _incidents.PoolThread(e.ThreadID));
        clr.WaitHandleWaitStart += e => Locked(() => _incidents.WaitStarted(e.ThreadID, Utc(e.TimeStamp)));
        clr.WaitHandleWaitStop += e => Locked(() => _incidents.WaitEnded(e.ThreadID));
        clr.ContentionStart += e => Locked(() => _incidents.ContentionStarted(e.ThreadID, Utc(e.TimeStamp)));
        clr.ContentionStop += e => Locked(() => _incidents.ContentionEnded(e.ThreadID));
        _source.Dynamic.All += Counter;
        // Subscribed to all of the runtime's events so that each is parsed and known by its name in the counts (an event
        // nothing asked for is only "EventID(54)"); the total counts every event read, the counters' and the stream's own.
        clr.All += e => _byName[e.EventName] = _byName.GetValueOrDefault(e.EventName) + 1;
        _source.AllEvents += e =>
        {
            Events++;
            if (e.ProviderGuid != ClrTraceEventParser.ProviderGuid)
                _byName[e.EventName] = _byName.GetValueOrDefault(e.EventName) + 1;
        };
        _reader = new Thread(Read) { Name = "asynclens watch reader", IsBackground = true };
    }

    /// <summary>Events read so far (what watching costs the process is in proportion: each is written into its buffer).</summary>
    public long Events { get; private set; }

    /// <summary>
    /// Events read so far by name, most first (the counters' are all "EventCounters"): which ones watching costs. Read on
    /// the reader's thread only until it ended: call after <see cref="Dispose"/>.
    /// </summary>
    public IEnumerable<(string Name, long Count)> EventsByName =>
        _byName.OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.Value));

    /// <summary>Why reading stopped: the stream broke (the process died mid-event); null when it simply ended.</summary>
    public Exception? ReadFailure { get; private set; }

    public static RuntimeSignals Start(DiagnosticsClient client, Action<Incident> opened)
    {
        var providers = new[]
        {
            // Verbose for the WaitHandle events, which are verbose; the Threading keyword's verbose events are the
            // Windows I/O completion port's and the working-thread counts (bench/web-overhead.sh measures the whole).
            new EventPipeProvider(RuntimeProvider, EventLevel.Verbose, ContentionKeyword | ThreadingKeyword | WaitHandleKeyword),
            new EventPipeProvider("System.Runtime", EventLevel.Informational, 0, new Dictionary<string, string> { ["EventCounterIntervalSec"] = "1" }),
        };
        var session = client.StartEventPipeSession(new EventPipeSessionConfiguration(providers, circularBufferSizeMB: 16, requestRundown: false, requestStackwalk: false));
        var signals = new RuntimeSignals(session, opened);
        signals._reader.Start();
        return signals;
    }

    /// <summary>The time passes (called about twice a second): long waits become signals; the incident that ended, if one did.</summary>
    public Incident? Tick(DateTimeOffset now)
    {
        Incident? opened, ended;
        lock (_incidents)
            ended = _incidents.Tick(now, out opened);
        if (opened is not null)
            _opened(opened);
        return ended;
    }

    /// <summary>The doctor found nothing stuck: not an incident (<see cref="Incidents.Dismiss"/>).</summary>
    public void Dismiss(Incident incident, DateTimeOffset at) => Locked(() => _incidents.Dismiss(incident, at));

    /// <summary>True once the stream ended (the process exited or closed the session).</summary>
    public bool Ended => !_reader.IsAlive;

    // System.Runtime's counters: {"Payload": {"Name": "threadpool-queue-length", "Mean": 3, ...}}, each in its own event.
    private void Counter(TraceEvent e)
    {
        if (e.EventName != "EventCounters" || e.PayloadValue(0) is not IDictionary<string, object> outer
            || outer.TryGetValue("Payload", out var inner) is false || inner is not IDictionary<string, object> payload
            || !payload.TryGetValue("Name", out var name))
            return;
        switch (name as string)
        {
            case "threadpool-queue-length" when payload.TryGetValue("Mean", out var mean):
                _queued = (long)Convert.ToDouble(mean, System.Globalization.CultureInfo.InvariantCulture);
                break;
            // The completed items' counter comes after the queue's in each batch: the two are judged together.
            case "threadpool-completed-items-count" when payload.TryGetValue("Increment", out var increment):
                var completed = (long)Convert.ToDouble(increment, System.Globalization.CultureInfo.InvariantCulture);
                var first = _completedBefore is null;
                _completedBefore = completed;
                Incident? opened = null;
                if (!first)
                    Locked(() => opened = _incidents.PoolSample(_queued, completed, Utc(e.TimeStamp)));
                if (opened is not null)
                    _opened(opened);
                break;
        }
    }

    private void Signal(TroubleSignal signal, DateTime at, string detail)
    {
        Incident? opened = null;
        Locked(() => opened = _incidents.Signal(signal, Utc(at), detail));
        if (opened is not null)
            _opened(opened);
    }

    private void Locked(Action action)
    {
        lock (_incidents)
            action();
    }

    private static DateTimeOffset Utc(DateTime at) => new(at.ToUniversalTime(), TimeSpan.Zero);

    private void Read()
    {
        try
        {
            _source.Process();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ReadFailure = ex;
        }
    }

    /// <summary>Stops the session (the process flushes what it wrote to it, which is then read); once only.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            _session.Stop();
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or IOException or EndOfStreamException or TimeoutException or ObjectDisposedException)
        {
            // The process is gone: its session with it.
        }
        _reader.Join(TimeSpan.FromSeconds(5));
        _source.Dispose();
        _session.Dispose();
    }
}
