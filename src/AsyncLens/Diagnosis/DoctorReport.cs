using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Diagnosis;

/// <summary>The doctor's answer as text (the diagnosis first, the evidence after) or as one line of JSON.</summary>
internal static class DoctorReport
{
    public static void WriteText(TextWriter writer, Diagnosis diagnosis)
    {
        var kinds = string.Join(", ", diagnosis.Verdicts.Select(v => v.Kind).Distinct());
        writer.Write($"asynclens doctor: {kinds} (pid {diagnosis.ProcessId.ToString(CultureInfo.InvariantCulture)}, {Time(diagnosis.TakenAt)})\n\n");
        foreach (var verdict in diagnosis.Verdicts)
            writer.Write($"{verdict.Kind}: {verdict.Summary}\n");
        if (diagnosis.Waits is { Count: > 0 } waits)
        {
            writer.Write("\nwaits on locks and events, not judged (one read cannot tell whether they will end):\n");
            foreach (var wait in waits)
                writer.Write($"  {wait.Text}\n");
        }
        foreach (var verdict in diagnosis.Verdicts.Where(v => v.Evidence.Count > 0))
        {
            writer.Write($"\nevidence for {verdict.Kind}:\n");
            foreach (var line in verdict.Evidence)
                writer.Write(line + "\n");
        }
        writer.Write($"\nlooked at: {Looked(diagnosis.Looked)}\n");
    }

    private static string Looked(Looked looked)
    {
        var parts = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{Doctor.Plural(looked.Threads, "managed thread")} ({looked.PoolThreads} in the thread pool: {looked.PoolBlocked} blocked, {looked.PoolIdle} idle)"),
            Doctor.Plural(looked.PendingTasks, "pending task"),
            looked.QueuedWorkItems is { } q ? Doctor.Plural(q, "work item") + " queued" : "work items queued: not counted",
            looked.CpuWatched is { } over ? string.Create(CultureInfo.InvariantCulture, $"each thread's processor use over {over.TotalSeconds:0.0} s after the stop")
                : "no processor use (a core dump: hot threads are not judged)",
        };
        return string.Join(", ", parts);
    }

    public static void WriteJson(TextWriter writer, Diagnosis diagnosis)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("pid", diagnosis.ProcessId);
            w.WriteString("timestamp", diagnosis.TakenAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteBoolean("healthy", diagnosis.IsHealthy);
            w.WriteStartArray("verdicts");
            foreach (var v in diagnosis.Verdicts)
            {
                w.WriteStartObject();
                w.WriteString("kind", v.Kind);
                w.WriteString("summary", v.Summary);
                Number(w, "count", v.Count);
                Number(w, "of", v.Of);
                w.WriteStartArray("sites");
                foreach (var site in v.Sites)
                {
                    w.WriteStartObject();
                    w.WriteString("role", site.Role);
                    w.WriteString("method", site.Method);
                    JsonTaskDump.Location(w, site.At);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("threads");
                foreach (var id in v.Threads)
                    w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteStartArray("evidence");
                foreach (var line in v.Evidence)
                    w.WriteStringValue(line.Trim());
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("waits");
            foreach (var wait in diagnosis.Waits ?? [])
            {
                w.WriteStartObject();
                if (wait.Tasks > 0)
                {
                    w.WriteNull("thread");
                    w.WriteNumber("tasks", wait.Tasks);
                }
                else
                {
                    w.WriteNumber("thread", wait.Thread);
                }
                w.WriteString("type", wait.Wait.Type);
                w.WriteString("name", wait.Wait.Name);
                if (wait.Wait.Owner > 0)
                    w.WriteNumber("holder", wait.Wait.Owner);
                else
                    w.WriteNull("holder");
                w.WriteString("method", wait.At?.Method);
                JsonTaskDump.Location(w, wait.At?.At);
                w.WriteString("summary", wait.Text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            var l = diagnosis.Looked;
            w.WriteStartObject("looked");
            w.WriteNumber("threads", l.Threads);
            w.WriteNumber("poolThreads", l.PoolThreads);
            w.WriteNumber("poolBlocked", l.PoolBlocked);
            w.WriteNumber("poolIdle", l.PoolIdle);
            w.WriteNumber("pendingTasks", l.PendingTasks);
            if (l.QueuedWorkItems is { } q)
                w.WriteNumber("queuedWorkItems", q);
            else
                w.WriteNull("queuedWorkItems");
            if (l.CpuWatched is { } over)
                w.WriteNumber("cpuWatchedSeconds", Math.Round(over.TotalSeconds, 3));
            else
                w.WriteNull("cpuWatchedSeconds");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        writer.Write(System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n");
    }

    private static void Number(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } n)
            w.WriteNumber(name, n);
        else
            w.WriteNull(name);
    }

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
