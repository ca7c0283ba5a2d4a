namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// The wire format of .NET 11's <c>System.Runtime.CompilerServices.AsyncProfilerEventSource</c>, in one place: the
/// source writes each thread's async events into a private buffer and hands the full (or idle) buffer to its one event,
/// <c>AsyncEvents(byte[] buffer)</c>. None of it is public API. Read from the shipped 11.0.0 System.Private.CoreLib
/// (decompiled: <c>AsyncProfiler.EventBuffer.Serializer</c>, <c>AsyncProfiler.EventManifest</c>), which differs from
/// dotnet/runtime's main branch of the same month (there: no <c>SuspendStateMachineAsyncContext</c>, no payload length
/// fields); <see cref="AsyncEventManifest.Shipped"/> is 11.0.0's table, and the buffer's own metadata event, when
/// the reader sees it, replaces it.
/// <para>
/// A buffer: a 37-byte header (<see cref="HeaderSize"/>; little-endian: version byte, total length, the writing thread's
/// context id, its OS thread id, the event count, the first and the last event's <see cref="System.Diagnostics.Stopwatch"/>
/// time stamp), then events. An event: its id (byte), the time since the previous event (or the header's first time
/// stamp) as a compressed unsigned integer, a payload length field of 0, 1 or 2 bytes (the manifest says which, per id),
/// then the payload. Integers are compressed 7 bits a byte, low first, high bit set on all but the last byte; signed
/// ones are zigzag-encoded first.
/// </para>
/// </summary>
internal static class AsyncEventFormat
{
    public const string SourceName = "System.Runtime.CompilerServices.AsyncProfilerEventSource";

    /// <summary>The id of the source's one event, <c>AsyncEvents(byte[] buffer)</c>.</summary>
    public const int AsyncEventsId = 1;

    /// <summary>The buffer layout version this reader knows (the header's first byte).</summary>
    public const byte BufferVersion = 1;

    public const int HeaderSize = 37;

    /// <summary>Offsets in the header.</summary>
    public const int LengthOffset = 1, ContextIdOffset = 5, OsThreadIdOffset = 9, EventCountOffset = 17,
        StartTimestampOffset = 21, LastTimestampOffset = 29;

    /// <summary>Each event of a stack-carrying kind starts with this many fixed bytes: flags, continuation index, frame count.</summary>
    public const int CallstackFixedBytes = 3;

    /// <summary>
    /// The source's keywords on 11.0.0: one per event kind, 0x1-0x200 for runtime-async dispatch contexts and methods,
    /// 0x400-0x20000 for compiler state machines (<c>SuspendStateMachineAsyncContext</c> = 0x1000 is in the shipped
    /// build only).
    /// </summary>
    public const long AllKeywords = 0x3FFFF;

    /// <summary>The keywords of the method resume events (<c>ResumeRuntimeAsyncMethod</c>, <c>ResumeStateMachineAsyncMethod</c>).</summary>
    public const long MethodResumeKeywords = 0x100 | 0x10000;

    /// <summary>
    /// The keywords debug mode takes (<see cref="EventSteps"/>): all but the method resumes, which the assembler derives
    /// (<see cref="AsyncStepAssembler"/>: a step begins where the one before it ended), and the runtime-async context
    /// creations and creation and suspension stacks (0x1, 0x20, 0x80), which it makes nothing of. Each event the runtime
    /// writes costs it a clock read and a few bytes; what each keyword costs the await micro-benchmark is measured in
    /// docs/async-events.md ("Which keywords debug mode takes").
    /// </summary>
    public const long StepKeywords = AllKeywords & ~(MethodResumeKeywords | 0x1 | 0x20 | 0x80);

    /// <summary>
    /// The keywords the profiler takes (<see cref="Profiling.EventProfilerEngine"/>): debug mode's, with the runtime-async
    /// context creations (0x1), which its accounting pairs with their first runs as the state machines'. Its steps are
    /// derived as debug mode's are (no method resumes); docs/performance.md ("The profiler") has what the cut saves.
    /// </summary>
    public const long ProfilerKeywords = StepKeywords | 0x1;

    /// <summary>
    /// The command the source takes to hand over every thread's buffer at once (its <c>OnEventCommand</c> runs
    /// <c>AsyncProfiler.Config.CaptureState</c> for it): otherwise a buffer goes when full, or once its thread has
    /// written nothing for 250 ms, from a timer that runs every second.
    /// </summary>
    public const System.Diagnostics.Tracing.EventCommand CaptureStateCommand = (System.Diagnostics.Tracing.EventCommand)1;
}
