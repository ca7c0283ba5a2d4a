using System.Diagnostics.Tracing;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Bench;

/// <summary>
/// The cost of .NET 11's <c>AsyncProfilerEventSource</c> (every keyword), the cheap source of step boundaries:
/// <c>async-events-ignored</c> takes the buffers and ignores them (the runtime's floor for that source);
/// <c>async-events</c> decodes each with AsyncLens's reader and assembles method steps from them
/// (<see cref="AsyncStepAssembler"/>: per thread, the context, its stack, each method's step), counted.
/// Both need the source: on a runtime without it (.NET 10) they fail. Either may name the keywords to take after an
/// <c>@</c>, in hex (<c>async-events-ignored@0x3FC00</c>): what each keyword group costs the runtime, and what debug
/// mode's own keywords (<see cref="AsyncEventFormat.StepKeywords"/>) save.
/// </summary>
internal static class AsyncEventsMode
{
    private const EventKeywords All = (EventKeywords)AsyncEventFormat.AllKeywords;

    private static readonly StepCounter s_steps = new();

    // OnEventSourceCreated runs from the base constructor, before a listener's fields are set.
    private static EventKeywords s_keywords = All;

    public static bool Handles(string mode) => Parse(mode) is not null;

    public static EventListener? Start(string mode)
    {
        if (Parse(mode) is not var (name, keywords))
            return null;
        s_keywords = keywords;
        return name == "async-events" ? AsyncEventsListener.Start(new AsyncStepAssembler(s_steps), keywords) : new Ignoring();
    }

    // "async-events" or "async-events-ignored", with "@0xMASK" for keywords other than all of them; null for another mode.
    private static (string Name, EventKeywords Keywords)? Parse(string mode)
    {
        var at = mode.IndexOf('@', StringComparison.Ordinal);
        var name = at < 0 ? mode : mode[..at];
        if (name is not ("async-events" or "async-events-ignored"))
            return null;
        if (at < 0)
            return (name, All);
        var mask = mode[(at + 1)..];
        return mask.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && long.TryParse(mask.AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var keywords)
            && keywords > 0 && (keywords & ~AsyncEventFormat.AllKeywords) == 0
                ? (name, (EventKeywords)keywords)
                : null;
    }

    /// <summary>One line for standard error: what the listener saw, so a run that saw nothing cannot pass for a cheap one.</summary>
    public static string Describe(EventListener listener) => listener switch
    {
        AsyncEventsListener l when l.SourceSeen =>
            FormattableString.Invariant($"async events (keywords 0x{(long)s_keywords:X}): {l.Buffers} buffers, {l.Events} events, {l.Skipped} skipped, {l.LostBuffers} buffers cut short; {s_steps.Steps} steps, {s_steps.Contexts} contexts created"),
        Ignoring { SourceSeen: true } i => FormattableString.Invariant($"async events (keywords 0x{(long)s_keywords:X}): {i.Buffers} buffers, ignored"),
        _ => throw new InvalidOperationException($"{AsyncEventFormat.SourceName} not found: this runtime ({Environment.Version}) has no such source"),
    };

    private sealed class Ignoring : EventListener
    {
        public bool SourceSeen;
        public long Buffers;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name != AsyncEventFormat.SourceName)
                return;
            SourceSeen = true;
            EnableEvents(eventSource, EventLevel.Informational, s_keywords);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData) => Interlocked.Increment(ref Buffers);
    }

    /// <summary>Counts the steps the engine's assembler makes of the events, and the longest.</summary>
    private sealed class StepCounter : IAsyncStepSink
    {
        public long Steps, Longest, Contexts;

        public void OnStep(in AsyncStep step)
        {
            Interlocked.Increment(ref Steps);
            if (step.End - step.Start > Volatile.Read(ref Longest))
                Volatile.Write(ref Longest, step.End - step.Start);
        }

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at) => Interlocked.Increment(ref Contexts);
    }
}
