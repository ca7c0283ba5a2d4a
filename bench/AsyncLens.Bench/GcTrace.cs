using System.Diagnostics.Tracing;
namespace AsyncLens.Bench;
internal sealed class GcTrace : EventListener
{
    long _start;
    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Informational, (EventKeywords)0x1);
    }
    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName == "GCStart_V2") { _start = e.TimeStamp.Ticks; Console.Error.Write($"GC #{e.Payload![0]} gen{e.Payload[1]} reason={e.Payload[2]} type={e.Payload[3]} "); }
        else if (e.EventName == "GCEnd_V1") Console.Error.WriteLine($"end {(e.TimeStamp.Ticks - _start) / 10000.0:F0}ms");
        else if (e.EventName is "GCSuspendEEBegin_V1" or "GCRestartEEEnd_V1") Console.Error.Write($"{e.EventName[2..9]}@{e.TimeStamp:ss.fff} ");
    }
}
