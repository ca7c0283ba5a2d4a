using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>The <c>json</c> dump: one object with every pending task and the coalesced stacks (docs/async-stacks.md).</summary>
internal static class JsonTaskDump
{
    public static void Write(TextWriter writer, TaskGraph graph, IEnumerable<PendingTask> tasks, DumpHeader header)
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("pid", header.ProcessId);
            w.WriteString("timestamp", header.Timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteStartArray("tasks");
            foreach (var t in tasks)
            {
                Task(w, t);
                if (w.BytesPending + buffer.WrittenCount > 64 * 1024)
                    Drain(w, buffer, writer);
            }
            w.WriteEndArray();
            w.WriteStartArray("stacks");
            foreach (var stack in StacksDump.Coalesce(graph, new Subtrees()))
            {
                w.WriteStartObject();
                w.WriteNumber("count", stack.Count);
                w.WriteStartArray("taskIds");
                foreach (var leaf in stack.Leaves.Take(100))
                    w.WriteNumberValue(leaf.Id);
                w.WriteEndArray();
                w.WriteStartArray("frames");
                foreach (var frame in stack.Frames)
                {
                    w.WriteStartObject();
                    w.WriteString("method", frame.Text.Title);
                    Location(w, frame.Text.At);
                    if (frame.Text.Note is not null)
                        w.WriteString("note", frame.Text.Note);
                    if (frame.Awaiters > 1)
                        w.WriteNumber("awaiters", frame.Awaiters);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("awaiting", stack.Awaiting);
                w.WriteEndObject();
                if (w.BytesPending + buffer.WrittenCount > 64 * 1024)
                    Drain(w, buffer, writer);
            }
            w.WriteEndArray();
            w.WriteEndObject();
            Drain(w, buffer, writer);
        }
        writer.Write("\n");
    }

    // Written out in pieces: a dump of 100,000 tasks never sits in memory whole, twice over as UTF-16.
    private static void Drain(Utf8JsonWriter w, ArrayBufferWriter<byte> buffer, TextWriter writer)
    {
        w.Flush();
        if (buffer.WrittenCount == 0)
            return;
        writer.Write(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        buffer.ResetWrittenCount();
    }

    internal static void Task(Utf8JsonWriter w, PendingTask t)
    {
        w.WriteStartObject();
        w.WriteNumber("id", t.Id);
        w.WriteString("kind", t.Kind);
        w.WriteString("method", t.Method);
        w.WriteString("state", t.State);
        if (t.AwaitIndex is { } index)
            w.WriteNumber("awaitIndex", index);
        w.WritePropertyName("parkedAt");
        Location(w, t.ParkedAt, inline: false);
        w.WriteStartArray("awaiting");
        foreach (var a in t.Awaiting)
        {
            w.WriteStartObject();
            w.WriteNumber("id", a.Id);
            w.WriteString("kind", a.Kind);
            w.WriteString("description", a.Description);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("awaitedBy");
        foreach (var id in t.AwaitedBy)
            w.WriteNumberValue(id);
        w.WriteEndArray();
        w.WriteBoolean("root", t.IsRoot);
        w.WriteBoolean("blockedThreadWaits", t.BlockedThreadWaits);
        w.WritePropertyName("createdAt");
        Location(w, t.CreatedAt, inline: false);
        if (t.Age is { } age)
            w.WriteNumber("ageSeconds", Math.Round(age.TotalSeconds, 3));
        else
            w.WriteNull("ageSeconds");
        w.WriteEndObject();
    }

    /// <summary>A location as "file" and "line" properties (inline), or as an object or null.</summary>
    internal static void Location(Utf8JsonWriter w, SourceLine? at, bool inline = true)
    {
        if (inline)
        {
            if (at is null)
            {
                w.WriteNull("file");
                w.WriteNull("line");
            }
            else
            {
                w.WriteString("file", at.File);
                w.WriteNumber("line", at.Line);
            }
            return;
        }
        if (at is null)
        {
            w.WriteNullValue();
            return;
        }
        w.WriteStartObject();
        w.WriteString("file", at.File);
        w.WriteNumber("line", at.Line);
        if (at.Method is not null)
            w.WriteString("method", at.Method);
        w.WriteEndObject();
    }
}
