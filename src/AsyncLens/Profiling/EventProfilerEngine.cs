using System.Diagnostics.Tracing;
using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Profiling;

/// <summary>
/// The async profiler on .NET 11's async events (<c>ASYNCLENS_STEP_SOURCE=async-events</c> or <c>async-events-only</c>,
/// decided in <see cref="Tracking.StepSource"/>): no TPL events and no registry of tasks. The buffers are decoded and
/// assembled into runs (<see cref="AsyncStepAssembler"/>) and accounted by <see cref="EventProfileAccounting"/>; a
/// method's id (its code address) is named when the profile stops, as debug mode names it.
/// </summary>
internal sealed class EventProfilerEngine : IProfilerEngine
{
    private readonly object _gate = new();
    private readonly ProfileScope _scope;
    private readonly Dictionary<ulong, MethodKey> _keys = [];
    private readonly Dictionary<object, MethodKey> _byCode = [];
    private readonly EventProfileAccounting _accounting;
    private readonly AsyncStepAssembler _assembler;
    private readonly AsyncEventsListener _listener;
    private AsyncProfile? _profile;

    public EventProfilerEngine(ProfileScope scope)
    {
        _scope = scope;
        PackageAssemblies.Prepare(AppContext.BaseDirectory);
        _accounting = new EventProfileAccounting(DateTime.UtcNow.Ticks, KeyOf, NameOf);
        _assembler = Assembler(_accounting);
        _listener = AsyncEventsListener.Start(_assembler, (EventKeywords)AsyncEventFormat.ProfilerKeywords);
        System.Runtime.Loader.AssemblyLoadContext.Default.Unloading += OnUnloading;
    }

    /// <summary>
    /// The runs the accounting takes, assembled without the method resume events (<see cref="AsyncEventFormat.ProfilerKeywords"/>):
    /// a step begins where the one before it ended, as debug mode's do.
    /// </summary>
    internal static AsyncStepAssembler Assembler(IAsyncRunSink runs) => new(runs, methodResumes: false);

    /// <summary>Contexts whose first run found no creation (see <see cref="EventProfileAccounting.Unpaired"/>).</summary>
    public long Unpaired => _accounting.Unpaired;

    public AsyncProfile Stop()
    {
        lock (_gate)
        {
            if (_profile is not null)
                return _profile;
            Collect();
            _listener.Dispose();
            System.Runtime.Loader.AssemblyLoadContext.Default.Unloading -= OnUnloading;
            return _profile = _accounting.Stop(DateTime.UtcNow.Ticks, _scope);
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        System.Runtime.Loader.AssemblyLoadContext.Default.Unloading -= OnUnloading;
    }

    // At exit the runtime disables every event listener before it raises ProcessExit (where the startup hook writes the
    // profile): what the threads' buffers hold is taken in just before (the default context's Unloading comes first).
    private void OnUnloading(System.Runtime.Loader.AssemblyLoadContext context)
    {
        lock (_gate)
        {
            if (_profile is null)
                Collect();
        }
    }

    // Every thread's buffer delivered now, and each context still running handed over as far as it ran (the one that
    // stops the profile, at least, holds completions of the profile's calls).
    private void Collect()
    {
        _listener.Flush();
        _assembler.EndRunsNow();
    }

    // Under the accounting's lock (at the stop; at a first run whose ids differ from its creator's): a state machine's
    // MoveNext, or a runtime-async method's resume point; once per id.
    private MethodKey KeyOf(ulong id)
    {
        if (_keys.TryGetValue(id, out var key))
            return key;
        object? code = (object?)EventSteps.StateMachineOf(id) ?? RuntimeAsyncChains.MethodAt((nint)id).Method;
        var kind = code switch
        {
            Type type => CodeOrigin.Kind(type.Assembly),
            MethodBase { DeclaringType: { } declaring } => CodeOrigin.Kind(declaring.Assembly),
            _ => CodeKind.Unknown,
        };
        if (code is null)
            key = new MethodKey(null, null, kind);
        else if (!_byCode.TryGetValue(code, out key!))
            _byCode[code] = key = new MethodKey(code, null, kind);
        return _keys[id] = key;
    }

    private static ProfiledMethod NameOf(MethodKey key) => key.Code switch
    {
        Type stateMachine => ProfiledMethod.ForStateMachine(stateMachine),
        MethodBase method => ProfiledMethod.ForMethod(method),
        _ => ProfiledMethod.Unresolved("(unknown)"),
    };
}
