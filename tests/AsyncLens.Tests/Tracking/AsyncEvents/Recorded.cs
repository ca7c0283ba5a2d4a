using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Tests.Tracking.AsyncEvents;

/// <summary>
/// Buffers the .NET 11.0.0 runtime delivered to an EventListener taking <c>AsyncProfilerEventSource</c> with every
/// keyword (see Recorded/README.md for the program and how they were taken), and the events decoded from them.
/// </summary>
internal static class Recorded
{
    public static byte[] Buffer(string name) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tracking", "AsyncEvents", "Recorded", name + ".bin"));

    /// <summary>Every event of the buffer, copied out of the reader (kind, time, ids, frames as (id, state)).</summary>
    public static (AsyncEventBufferHeader Header, List<Decoded> Events, AsyncEventBufferError Error) Decode(byte[] buffer, AsyncEventManifest? manifest = null)
    {
        var reader = new AsyncEventReader(buffer, manifest ?? AsyncEventManifest.Shipped);
        var events = new List<Decoded>();
        while (reader.Next(out var e))
        {
            var frames = new List<(ulong, int)>();
            var f = e.Frames;
            while (f.Next(out var id, out var state))
                frames.Add((id, state));
            events.Add(new Decoded(e.Kind, e.Timestamp, e.DispatcherId, e.ParentDispatcherId, e.UnwoundFrames, e.Frames.Count, frames));
        }
        return (reader.Header, events, reader.Error);
    }
}

internal sealed record Decoded(AsyncEventKind Kind, long Timestamp, ulong DispatcherId, ulong ParentDispatcherId, uint UnwoundFrames, int FrameCount, List<(ulong Id, int State)> Frames);
