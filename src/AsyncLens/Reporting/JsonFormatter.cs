using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AsyncLens.Reporting;

/// <summary>The JSON format: one object per line, fields as docs/report-schema.md lists them.</summary>
internal static class JsonFormatter
{
    public static string Format(AsyncReport r)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("kind", r.Kind);
            if (r.Repeats > 0)
            {
                Repeats(w, r);
                w.WriteEndObject();
                w.Flush();
                return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
            }
            w.WriteNumber("taskId", r.TaskId);
            if (r.ThreadId is { } thread)
                w.WriteNumber("threadId", thread);
            w.WriteString("method", r.Method);
            Location(w, "location", r.Location);
            if (r.ResumedAt is not null)
                Location(w, "resumedAt", r.ResumedAt);
            if (r.StoppedAt is not null)
                Location(w, "stoppedAt", r.StoppedAt);
            if (r.FirstStep)
                w.WriteBoolean("firstStep", true);
            Location(w, "createdAt", r.CreatedAt);
            if (r.DurationSeconds is { } seconds)
                w.WriteNumber("durationSeconds", seconds);
            if (r.Kind is AsyncReportKinds.HungStep or AsyncReportKinds.BlockingWait or AsyncReportKinds.SyncOverAsyncDeadlock)
                w.WriteBoolean("ongoing", r.Ongoing);
            Frames(w, "asyncStack", r.AsyncStack);
            if (r.WaitingOn is { } target)
            {
                w.WriteStartObject("waitingOn");
                w.WriteNumber("taskId", target.TaskId);
                w.WriteString("description", target.Description);
                Location(w, "parkedAt", target.ParkedAt);
                w.WriteEndObject();
            }
            if (r.Exception is { } ex)
            {
                w.WriteStartObject("exception");
                w.WriteString("type", ex.Type);
                w.WriteString("message", ex.Message);
                w.WriteString("stackTrace", ex.StackTrace);
                w.WriteEndObject();
            }
            if (r.ContinuationAt is not null)
                Location(w, "continuationAt", r.ContinuationAt);
            if (r.CancelledAt is not null)
                Location(w, "cancelledAt", r.CancelledAt);
            if (r.LostExceptions is { } lostExceptions)
            {
                w.WriteStartArray("lostExceptions");
                foreach (var lost in lostExceptions)
                {
                    w.WriteStartObject();
                    w.WriteString("type", lost.Type);
                    w.WriteString("message", lost.Message);
                    w.WriteString("method", lost.Method);
                    Location(w, "thrownAt", lost.ThrownAt);
                    Location(w, "createdAt", lost.CreatedAt);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteString("message", r.Message);
            if (r.Fix is not null)
                w.WriteString("fix", r.Fix);
            w.WriteString("timestamp", Timestamp(r.Timestamp));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    // A summary of repeats of one site (see RepeatedReports): what identifies the site, how many, since when, the longest.
    private static void Repeats(Utf8JsonWriter w, AsyncReport r)
    {
        w.WriteString("method", r.Method);
        Location(w, "location", r.Location);
        w.WriteNumber("repeats", r.Repeats);
        if (r.RepeatsSince is { } since)
            w.WriteString("since", Timestamp(since));
        if (r.DurationSeconds is { } longest)
            w.WriteNumber("longestSeconds", longest);
        w.WriteString("message", r.Message);
        w.WriteString("timestamp", Timestamp(r.Timestamp));
    }

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An async stack as an array of <c>method</c>, <c>file</c>, <c>line</c> (the report's, and the console history's).</summary>
    internal static void Frames(Utf8JsonWriter w, string name, IReadOnlyList<AsyncStackFrame> frames)
    {
        w.WriteStartArray(name);
        foreach (var frame in frames)
        {
            w.WriteStartObject();
            w.WriteString("method", frame.Method);
            if (frame.File is null)
                w.WriteNull("file");
            else
                w.WriteString("file", frame.File);
            if (frame.Line is { } line)
                w.WriteNumber("line", line);
            else
                w.WriteNull("line");
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void Location(Utf8JsonWriter w, string name, SourceLine? at)
    {
        if (at is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        w.WriteString("file", at.File);
        w.WriteNumber("line", at.Line);
        if (at.Method is not null)
            w.WriteString("method", at.Method);
        w.WriteEndObject();
    }
}
