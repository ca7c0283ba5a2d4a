using System.Diagnostics.Tracing;
using AsyncLens.Runtime;

namespace AsyncLens.Tracking;

/// <summary>
/// The runtime's own events (<c>Microsoft-Windows-DotNETRuntime</c>, GC and contention keywords, Informational),
/// delivered on a thread of the runtime's a few milliseconds after they happen:
/// <list type="bullet">
/// <item>every time the runtime suspends all managed threads, for a GC or to patch code, from <c>GCSuspendEEBegin</c> to
/// <c>GCRestartEEEnd</c>: handed to <c>onSuspension</c> as (from, to, GC index or -1), in DateTime ticks like the TPL
/// events' stamps;</item>
/// <item>a collection the app asked for (<c>GC.Collect</c>: <c>GCStart</c> with an induced reason): handed to
/// <c>onInduced</c> as (GC index, generation);</item>
/// <item>a thread's wait for a contended lock (<c>ContentionStart</c>/<c>ContentionStop</c>): to
/// <see cref="RegistryWaits"/>, which keeps those on the runtime's registry of active tasks. Raised only when a
/// thread has to wait, so they cost nothing in a process without contention.</item>
/// </list>
/// </summary>
internal sealed class RuntimeEvents(Action<long, long, long> onSuspension, Action<long, int> onInduced) : EventListener
{
    public const string SourceName = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    internal const EventKeywords ContentionKeyword = (EventKeywords)0x4000;

    // Event ids of the runtime's manifest (ClrEtwAll.man), stable across versions.
    private const int GCStart = 1;
    private const int GCRestartEEEnd = 3;
    private const int GCSuspendEEBegin = 9;
    internal const int ContentionStart = 81;
    internal const int ContentionStop = 91;

    // GCStart's Reason values for a collection the app asked for: Induced, InducedNotForced, InducedLowMemory, InducedCompacting.
    private static readonly uint[] s_induced = [1, 7, 9, 10];

    private static int s_listening;

    private long _begin;
    private long _gcIndex = -1;
    private bool _inGc;

    /// <summary>
    /// The runtime's task that delivers these events (EventPipe's dispatcher, a long-running <c>Task.Run</c> started
    /// by the first listener to the runtime's events): AsyncLens's own work while it listens, left out of task dumps.
    /// </summary>
    public static bool IsDispatchTask(Task task) =>
        Volatile.Read(ref s_listening) > 0 && TaskInternals.Action(task)?.Method.DeclaringType?.FullName is { } type
        && type.StartsWith("System.Diagnostics.Tracing.EventPipeEventDispatcher", StringComparison.Ordinal);

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == SourceName)
        {
            EnableEvents(eventSource, EventLevel.Informational, GcKeyword | ContentionKeyword);
            if (Interlocked.Exchange(ref _counted, 1) == 0)
                Interlocked.Increment(ref s_listening);
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        if (Interlocked.Exchange(ref _counted, 0) == 1)
            Interlocked.Decrement(ref s_listening);
    }

    private int _counted;

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        // The runtime's dispatch thread: nothing it does is the app's.
        ThreadTracker.IsEngineThread = true;
        switch (e.EventId)
        {
            // V2 (.NET 8 and later): flags, instance, lock, the object locked, its owner thread.
            case ContentionStart when e.Payload is { Count: >= 5 } p:
                RegistryWaits.OnStart(e.OSThreadId, Address(p[3]), e.TimeStamp.Ticks);
                break;
            case ContentionStop when e.Payload is { Count: >= 3 } p && p[2] is double durationNs:
                RegistryWaits.OnStop(e.OSThreadId, (long)(durationNs / 100), e.TimeStamp.Ticks);
                break;
            case GCSuspendEEBegin:
                _begin = e.TimeStamp.Ticks;
                _inGc = false;
                break;
            case GCStart when e.Payload is [uint count, uint depth, uint reason, ..]:
                _gcIndex = count;
                _inGc = true;
                if (s_induced.Contains(reason))
                    onInduced(count, (int)depth);
                break;
            case GCRestartEEEnd when _begin != 0:
                onSuspension(_begin, e.TimeStamp.Ticks, _inGc ? _gcIndex : -1);
                _begin = 0;
                break;
        }
        RegistryWaits.Delivered(e.TimeStamp.Ticks);
    }

    private static long Address(object? value) => value switch
    {
        nint p => p,
        ulong u => (long)u,
        long l => l,
        _ => 0,
    };
}
