using System.Diagnostics.Tracing;
using AsyncLens.Tracking;

namespace AsyncLens.Bench;

/// <summary>
/// What the runtime itself charges for what debug mode switches on, with no AsyncLens code on the path: the
/// floor under any engine built on the TPL events. <c>listener</c>: an <see cref="EventListener"/> that enables
/// the TPL event source with debug mode's keywords and ignores every event (the runtime still builds and
/// delivers each one). <c>tpl-quiet</c>: the source enabled with only the AsyncMethod keyword, which no await
/// raises: no event is delivered, but once the source is on at all the runtime wraps every await's
/// continuation and assigns task ids (its pay-for-play paths for tracing).
/// </summary>
internal sealed class RuntimeFloor : EventListener
{
    private const EventKeywords AsyncMethod = (EventKeywords)0x100;

    // OnEventSourceCreated runs from the base constructor, before this class's fields are set.
    [ThreadStatic] private static EventKeywords t_keywords;

    private RuntimeFloor()
    {
    }

    public static RuntimeFloor? Start(string mode)
    {
        t_keywords = mode switch
        {
            "listener" => TplListener.Keywords,
            "tpl-quiet" => AsyncMethod,
            _ => EventKeywords.None,
        };
        return t_keywords == EventKeywords.None ? null : new RuntimeFloor();
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == TplListener.SourceName && t_keywords != EventKeywords.None)
            EnableEvents(eventSource, EventLevel.Informational, t_keywords);
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
    }
}
