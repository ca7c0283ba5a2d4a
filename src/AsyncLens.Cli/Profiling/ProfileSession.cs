using System.Diagnostics;
using System.Diagnostics.Tracing;
using AsyncLens.Cli.Remote;
using AsyncLens.Profiling;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;
using Microsoft.Diagnostics.Tracing.Parsers.Tpl;

namespace AsyncLens.Cli.Profiling;

/// <summary>
/// An EventPipe session on a running process (its diagnostics channel: nothing of AsyncLens in it, nothing stopped):
/// the TPL events the in-process profiler listens to, with the same keywords, read on one thread and fed to the same
/// <see cref="ProfileAccounting"/>, each with the steps of the thread that raised it. No stacks are asked for (a stack
/// per event would cost the process far more than the event) and no rundown; the runtime's module loads come along,
/// so that names can be looked up in every module the process has loaded.
/// </summary>
internal sealed class ProfileSession : IDisposable
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const long LoaderKeyword = 0x8;
    private const long EndRundownKeyword = 0x100;

    private readonly EventPipeSession _session;
    private readonly RemoteSymbols _symbols;
    private readonly EventPipeEventSource _source;
    private readonly TargetMethodNames _names;
    private readonly ProfileAccounting _accounting;
    private readonly Dictionary<int, ThreadSteps> _threads = [];
    private readonly Thread _reader;
    private readonly Stopwatch _since = new();
    private long _last;

    private ProfileSession(EventPipeSession session, List<string> modules, ProfileScope scope)
    {
        _session = session;
        _symbols = new RemoteSymbols(modules);
        _names = new TargetMethodNames(_symbols);
        foreach (var module in modules)
            _names.ModuleLoaded(module);
        _accounting = new ProfileAccounting(_names, scope, start: 0);
        _source = new EventPipeEventSource(session.EventStream);
        var tpl = new TplEtwProviderTraceEventParser(_source);
        tpl.TraceOperationStart += e => _accounting.OperationBegin(Steps(e), e.TaskID, e.OperationName, Now(e));
        tpl.TraceOperationStop += e => _accounting.OperationEnd(Steps(e), e.TaskID, Now(e));
        tpl.TraceSynchronousWorkStart += e => _accounting.WorkBegin(Steps(e), e.TaskID, (int)e.Work, Now(e));
        tpl.TraceSynchronousWorkStop += e => _accounting.WorkEnd(Steps(e), Now(e));
        tpl.TaskWaitSend += e => _accounting.TaskWaitBegin(Steps(e), e.TaskID, (int)e.Behavior, e.ContinueWithTaskID, Now(e));
        tpl.TraceOperationRelation += e => _accounting.OperationRelation(Steps(e), e.TaskID, (int)e.Relation, Now(e));
        _source.Clr.LoaderModuleLoad += e => _names.ModuleLoaded(e.ModuleILPath);
        _reader = new Thread(Read) { Name = "asynclens event reader", IsBackground = true };
    }

    /// <summary>Why reading stopped before it was asked to, if it did: the stream broke (the process died mid-event).</summary>
    public Exception? ReadFailure { get; private set; }

    /// <summary>Events the process dropped: its buffer was full (it raised them faster than they were read).</summary>
    public int EventsLost => _source.EventsLost;

    /// <summary>Method names found in more than one module type (see <see cref="TargetMethodNames"/>).</summary>
    public IReadOnlyCollection<string> Ambiguous => _names.Ambiguous;

    /// <summary>
    /// Opens the session, then lists the modules the process had already loaded (a second, short session that asks
    /// only for the loader's rundown: opened after the first, so no module falls between the two), then starts reading.
    /// </summary>
    public static ProfileSession Start(DiagnosticsClient client, ProfileScope scope)
    {
        var providers = new[]
        {
            new EventPipeProvider(AsyncLens.Tracking.TplListener.SourceName, EventLevel.Informational, (long)AsyncLens.Tracking.TplListener.ProfilerKeywords),
            new EventPipeProvider(RuntimeProvider, EventLevel.Informational, LoaderKeyword),
        };
        var session = client.StartEventPipeSession(new EventPipeSessionConfiguration(providers, circularBufferSizeMB: 256, requestRundown: false, requestStackwalk: false));
        try
        {
            var profile = new ProfileSession(session, LoadedModules(client), scope);
            profile._since.Start();
            profile._reader.Start();
            return profile;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the reader stops by itself (the process exited: its stream ended) or <paramref name="timeout"/> passes.</summary>
    public bool WaitForEnd(TimeSpan timeout) => _reader.Join(timeout);

    /// <summary>
    /// Asks the process to end the session (it flushes what it buffered) and reads to the end of the stream; pending
    /// methods are counted up to now. A process that is gone, or does not answer, ends the reading as it is.
    /// </summary>
    public AsyncProfile Stop()
    {
        // A stream that ended by itself (the process exited) ends at its last event; else now is when it was stopped.
        var stoppedAt = _reader.IsAlive ? _since.Elapsed.Ticks : 0;
        if (_reader.IsAlive)
        {
            try
            {
                _session.Stop();
            }
            catch (Exception ex) when (ex is ServerNotAvailableException or IOException or TimeoutException or DiagnosticsClientException or UnauthorizedAccessException)
            {
            }
            if (!_reader.Join(TimeSpan.FromSeconds(30)))
                _session.Dispose();
            _reader.Join(TimeSpan.FromSeconds(5));
        }
        return _accounting.Stop(Math.Max(Volatile.Read(ref _last), stoppedAt));
    }

    public void Dispose()
    {
        _session.Dispose();
        _source.Dispose();
        _symbols.Dispose();
    }

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

    private ThreadSteps Steps(TraceEvent e)
    {
        if (!_threads.TryGetValue(e.ThreadID, out var steps))
            _threads[e.ThreadID] = steps = new ThreadSteps();
        return steps;
    }

    // Ticks since the session started (the stream's clock), the accounting's time base.
    private long Now(TraceEvent e)
    {
        var now = (long)(e.TimeStampRelativeMSec * TimeSpan.TicksPerMillisecond);
        Volatile.Write(ref _last, now);
        return now;
    }

    // The modules loaded so far, as the runtime lists them at the end of a session that asks for the loader rundown
    // alone (.NET 9 and later); an older runtime does the whole rundown (every method too: slower, once).
    private static List<string> LoadedModules(DiagnosticsClient client)
    {
        var modules = new List<string>();
        var providers = new[] { new EventPipeProvider(RuntimeProvider, EventLevel.Informational, 0) };
        EventPipeSession session;
        try
        {
            session = client.StartEventPipeSession(new EventPipeSessionConfiguration(providers, circularBufferSizeMB: 16, rundownKeyword: LoaderKeyword | EndRundownKeyword, requestStackwalk: false));
        }
        catch (UnsupportedCommandException)
        {
            session = client.StartEventPipeSession(new EventPipeSessionConfiguration(providers, circularBufferSizeMB: 64, requestRundown: true, requestStackwalk: false));
        }
        using var rundown = session;
        using var source = new EventPipeEventSource(rundown.EventStream);
        new ClrRundownTraceEventParser(source).LoaderModuleDCStop += e => modules.Add(e.ModuleILPath);
        var reading = Task.Run(source.Process);
        rundown.Stop();
        if (!reading.Wait(TimeSpan.FromSeconds(30)))
            throw new TimeoutException("the process did not list its modules within 30 s");
        return modules;
    }
}
