using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>What an <see cref="AsyncEventsListener"/> hands on: each decoded event with its time in <see cref="DateTime"/> ticks (UTC).</summary>
internal interface IAsyncEventSink
{
    /// <summary>
    /// One event of a buffer <paramref name="header"/> describes (the thread that raised it is
    /// <see cref="AsyncEventBufferHeader.OsThreadId"/>). Called on the thread that delivers the buffer: the raising
    /// thread when its buffer filled up, the runtime's flush timer otherwise (within about 1.25 s of the last event).
    /// </summary>
    void OnAsyncEvent(in AsyncEventBufferHeader header, in AsyncEvent e, long utcTicks);
}

/// <summary>
/// A sink that takes a buffer's events as one batch: they are all one thread's, so what it keeps per thread is found
/// (and locked) once per buffer, not once per event (<see cref="AsyncStepAssembler"/>: about 0.3 µs of the ~9 events
/// of an await, measured in docs/async-events.md).
/// </summary>
internal interface IAsyncEventBufferSink : IAsyncEventSink
{
    /// <summary>Before the buffer's events: the state they are applied to, held until <see cref="EndBuffer"/>.</summary>
    object BeginBuffer(in AsyncEventBufferHeader header);

    /// <summary>One event of the buffer <paramref name="buffer"/> (what <see cref="BeginBuffer"/> gave) stands for.</summary>
    void OnAsyncEvent(object buffer, in AsyncEvent e, long utcTicks);

    /// <summary>After the buffer's last event (or the decoder stopping in it): releases what <see cref="BeginBuffer"/> took.</summary>
    void EndBuffer(object buffer);
}

/// <summary>
/// Takes .NET 11's <c>AsyncProfilerEventSource</c> with the given keywords and decodes each buffer it delivers into
/// the sink, on the delivering thread, allocating nothing per event (the runtime allocates the buffer's array).
/// Metadata and clock-sync events update the <see cref="Clock"/> and the manifest, and reach the sink too. On a runtime
/// without the source (.NET 10) it stays silent: <see cref="SourceSeen"/> says which.
/// </summary>
internal sealed class AsyncEventsListener : EventListener
{
    // OnEventSourceCreated runs from the base constructor, before this class's fields are set.
    [ThreadStatic] private static (IAsyncEventSink Sink, EventKeywords Keywords)? t_constructing;

    private readonly IAsyncEventSink _sink;
    private readonly EventKeywords _keywords;
    private AsyncEventManifest _manifest = AsyncEventManifest.Shipped;

    private AsyncEventsListener(IAsyncEventSink sink, EventKeywords keywords)
    {
        _sink = sink;
        _keywords = keywords;
    }

    public static AsyncEventsListener Start(IAsyncEventSink sink, EventKeywords keywords)
    {
        t_constructing = (sink, keywords);
        try
        {
            return new AsyncEventsListener(sink, keywords);
        }
        finally
        {
            t_constructing = null;
        }
    }

    public AsyncEventClock Clock { get; } = AsyncEventClock.Local();

    public bool SourceSeen { get; private set; }

    public long Buffers, Events, Skipped, LostBuffers;

    /// <summary>Decodes one buffer into the sink (the listener's path, and the tests' over recorded buffers).</summary>
    public void Decode(ReadOnlySpan<byte> buffer)
    {
        // A buffer delivered while the base constructor still runs finds the sink in the constructing thread's slot.
        var sink = _sink ?? t_constructing?.Sink;
        if (sink is null)
            return;
        var reader = new AsyncEventReader(buffer, _manifest);
        Interlocked.Increment(ref Buffers);
        var batch = sink as IAsyncEventBufferSink;
        var state = reader.Error == AsyncEventBufferError.None ? batch?.BeginBuffer(reader.Header) : null;
        long events;
        try
        {
            events = Feed(ref reader, sink, batch, state);
        }
        finally
        {
            if (state is not null)
                batch!.EndBuffer(state);
        }
        Interlocked.Add(ref Events, events);
        if (reader.Skipped != 0)
            Interlocked.Add(ref Skipped, reader.Skipped);
        if (reader.Error != AsyncEventBufferError.None)
            Interlocked.Increment(ref LostBuffers);
    }

    // The loop over a buffer's events, out of Decode's try/finally: the JIT keeps a local that lives across a protected
    // region in memory, written at every change, and the reader's position and time change at every event.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private long Feed(ref AsyncEventReader reader, IAsyncEventSink sink, IAsyncEventBufferSink? batch, object? state)
    {
        long events = 0;
        var clock = Clock.Current;
        while (reader.Next(out var e))
        {
            events++;
            if (e.Kind is AsyncEventKind.AsyncProfilerMetadata or AsyncEventKind.AsyncProfilerSyncClock
                && Clock.Update(e, out var manifest))
            {
                clock = Clock.Current;
                if (manifest is not null)
                    _manifest = manifest;
            }
            if (state is not null)
                batch!.OnAsyncEvent(state, e, clock.ToUtcTicks(e.Timestamp));
            else
                sink.OnAsyncEvent(reader.Header, e, clock.ToUtcTicks(e.Timestamp));
        }
        return events;
    }

    /// <summary>
    /// Has the runtime hand over every thread's buffer now, on the calling thread (the source's capture-state command:
    /// <c>AsyncProfiler.Config.CaptureState</c>, which waits up to 100 ms for a thread writing its buffer). A thread
    /// writing an event meanwhile waits for its buffer to be decoded.
    /// </summary>
    public void Flush()
    {
        if (_source is { } source)
            EventSource.SendCommand(source, AsyncEventFormat.CaptureStateCommand, null);
    }

    private EventSource? _source;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name != AsyncEventFormat.SourceName)
            return;
        SourceSeen = true;
        _source = eventSource;
        var keywords = t_constructing?.Keywords ?? _keywords;
        EnableEvents(eventSource, EventLevel.Informational, keywords);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventId != AsyncEventFormat.AsyncEventsId || e.Payload is not { Count: >= 1 } payload || payload[0] is not byte[] buffer)
            return;
        Decode(buffer);
    }
}
