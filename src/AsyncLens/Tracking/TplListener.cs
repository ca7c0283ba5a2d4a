using System.Diagnostics.Tracing;

namespace AsyncLens.Tracking;

/// <summary>
/// Receives the runtime's TPL events (System.Threading.Tasks.TplEventSource) synchronously, on the
/// thread that raised them, and hands them to the engine. Keywords: TaskTransfer (TaskWaitBegin: awaits
/// and synchronous waits; unlike Tasks it does not add TaskStarted for every delegate task),
/// AsyncCausalityOperation (task creation and completion) and AsyncCausalitySynchronousWork (the begin
/// and end of every step). See docs/how-it-works.md. For an engine that asks, also ASP.NET Core's
/// RequestStart and RequestStop (Microsoft.AspNetCore.Hosting), raised on the thread that begins / ends processing a request.
/// </summary>
internal sealed class TplListener : EventListener
{
    public const string SourceName = "System.Threading.Tasks.TplEventSource";
    public const EventKeywords Keywords = (EventKeywords)0x1 | (EventKeywords)0x8 | SynchronousWorkKeyword;

    /// <summary>AsyncCausalitySynchronousWork: the begin and end of every step (TraceSynchronousWorkBegin/End).</summary>
    public const EventKeywords SynchronousWorkKeyword = (EventKeywords)0x20;

    /// <summary>The profiler's: also AsyncCausalityRelation (a WhenAll / Unwrap promise taking in a task that completed).</summary>
    public const EventKeywords ProfilerKeywords = Keywords | (EventKeywords)0x10;

    public const string HostingSourceName = "Microsoft.AspNetCore.Hosting";
    private const int HostingRequestStart = 3; // TPL's own events 3 and 4 (ParallelInvokeBegin/End) are under a keyword not asked for
    private const int HostingRequestStop = 4;

    private const int TaskWaitBegin = 10;
    private const int TraceOperationBegin = 14;
    private const int TraceOperationEnd = 15;
    private const int TraceOperationRelation = 16;
    private const int TraceSynchronousWorkBegin = 17;
    private const int TraceSynchronousWorkEnd = 18;

    // EventListener's base constructor calls OnEventSourceCreated for existing sources before this
    // class's constructor body runs; the engine is set through a static for that window.
    [ThreadStatic] private static IEngineEvents? t_constructing;

    private readonly IEngineEvents? _engine;

    private TplListener(IEngineEvents engine) => _engine = engine;

    public static TplListener Start(IEngineEvents engine)
    {
        t_constructing = engine;
        try
        {
            return new TplListener(engine);
        }
        finally
        {
            t_constructing = null;
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == SourceName)
            EnableEvents(eventSource, EventLevel.Informational, (_engine ?? t_constructing)?.Keywords ?? Keywords);
        else if (eventSource.Name == HostingSourceName && (_engine ?? t_constructing) is { WatchesRequests: true })
            EnableEvents(eventSource, EventLevel.Informational);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (ThreadTracker.IsEngineThread)
            return;
        var engine = _engine ?? t_constructing;
        if (engine is null)
            return;
        try
        {
            // The runtime stamps every event with DateTime.UtcNow already; reading the clock again would
            // cost as much (a clock read is ~60 ns on a VM without a vDSO clock). The payload is decoded
            // only for events that need it.
            var now = e.TimeStamp.Ticks;
            switch (e.EventId)
            {
                case TraceSynchronousWorkBegin when e.Payload is { Count: >= 2 } p:
                    engine.OnWorkBegin(Int(p[0]), Int(p[1]), now);
                    break;
                case TraceSynchronousWorkEnd:
                    engine.OnWorkEnd(now);
                    break;
                case TraceOperationBegin when e.Payload is { Count: >= 2 } p:
                    engine.OnOperationBegin(Int(p[0]), p[1] as string ?? "", now);
                    break;
                case TraceOperationEnd when e.Payload is { Count: >= 2 } p:
                    engine.OnOperationEnd(Int(p[0]), Int(p[1]), now);
                    break;
                case TraceOperationRelation when e.Payload is { Count: >= 2 } p:
                    engine.OnOperationRelation(Int(p[0]), Int(p[1]), now);
                    break;
                case TaskWaitBegin when e.Payload is { Count: >= 5 } p:
                    engine.OnTaskWaitBegin(Int(p[2]), Int(p[3]), Int(p[4]), now);
                    break;
                case HostingRequestStart when e.EventSource.Name == HostingSourceName:
                    engine.OnRequestStart(now);
                    break;
                case HostingRequestStop when e.EventSource.Name == HostingSourceName:
                    engine.OnRequestStop(now);
                    break;
            }
            EngineTime.OnEventHandled(ThreadTracker.Current, now);
        }
        catch (Exception ex)
        {
            engine.Fail(ex);
        }
    }

    private static int Int(object? value) => value is int i ? i : Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>The engine as the listener sees it. <c>now</c> is the event's time in <see cref="DateTime"/> ticks (UTC).</summary>
internal interface IEngineEvents
{
    void OnOperationBegin(int taskId, string operationName, long now);

    void OnOperationEnd(int taskId, int status, long now);

    void OnWorkBegin(int taskId, int work, long now);

    void OnWorkEnd(long now);

    void OnTaskWaitBegin(int taskId, int behavior, int continueWithTaskId, long now);

    void Fail(Exception exception);

    /// <summary>The TPL keywords the engine listens with.</summary>
    EventKeywords Keywords => TplListener.Keywords;

    /// <summary>A promise (WhenAll, Unwrap, ...) took in a completed task (raised while that task's continuations run).</summary>
    void OnOperationRelation(int taskId, int relation, long now)
    {
    }

    /// <summary>Whether the engine wants <see cref="OnRequestStart"/>.</summary>
    bool WatchesRequests => false;

    /// <summary>ASP.NET Core began processing a request on this thread.</summary>
    void OnRequestStart(long now)
    {
    }

    /// <summary>ASP.NET Core finished a request on this thread.</summary>
    void OnRequestStop(long now)
    {
    }
}
