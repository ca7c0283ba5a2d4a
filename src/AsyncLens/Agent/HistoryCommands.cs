using System.Globalization;
using System.Text;
using System.Text.Json;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Agent;

/// <summary>The console's <c>ps-terminated</c> and <c>where-terminated ID</c>, from the <see cref="TerminatedHistory"/>.</summary>
internal static class HistoryCommands
{
    private static readonly string[] s_columns = ["ID", "HOW", "METHOD", "LAST PARKED AT", "LIVED", "ENDED"];

    /// <summary><c>--filter TEXT</c> keeps the rows whose method, how it ended (<c>faulted</c>) or <c>File.cs:line</c> it last parked at contain the text (case ignored), as ps' filter.</summary>
    public static ConsoleReply Ps(TerminatedHistory history, ConsoleArgs args)
    {
        var filter = args.Option("--filter");
        args.End();
        if (!history.IsOn)
            return ConsoleReply.Failed(Off);
        var now = DateTimeOffset.UtcNow;
        var (kept, total) = history.Snapshot();
        var tasks = filter is null ? kept : [.. kept.Where(t => t.How.Contains(filter, StringComparison.OrdinalIgnoreCase)
            || TaskCommands.Matches(t.Method, t.LastParkedAt?.File, t.LastParkedAt?.Line ?? 0, filter))];
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"asynclens: {kept.Count} ended async method{(kept.Count == 1 ? "" : "s")} (the last {history.Size} kept; {total} since the console started; pid {Environment.ProcessId}, {ConsoleProtocol.Timestamp(now)})\n");
        if (filter is not null)
            text.Append(CultureInfo.InvariantCulture, $"{tasks.Count} matching '{filter}'\n");
        if (tasks.Count > 0)
        {
            var rows = new List<string[]> { s_columns };
            rows.AddRange(tasks.Select(t => new[]
            {
                TaskTable.Id(t.Id), t.How, t.Method,
                t.LastParkedAt is { } at ? $"{Path.GetFileName(at.File)}:{at.Line.ToString(CultureInfo.InvariantCulture)}" : "-",
                t.Lived is { } lived ? TaskTable.Age(lived) : "-",
                TaskTable.Age(now - t.Ended) + " ago",
            }));
            text.Append('\n').Append(TaskTable.Align(rows));
        }
        return new ConsoleReply(text.ToString(), w =>
        {
            w.WriteStartObject();
            w.WriteNumber("kept", history.Size);
            w.WriteNumber("total", total);
            w.WriteStartArray("tasks");
            foreach (var t in tasks)
                Write(w, t);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public static ConsoleReply Where(TerminatedHistory history, ConsoleArgs args)
    {
        var id = args.TaskId();
        if (!history.IsOn)
            return ConsoleReply.Failed(Off);
        var (tasks, _) = history.Snapshot();
        if (tasks.FirstOrDefault(t => t.Id == id) is not { } task)
            return ConsoleReply.Failed($"where-terminated: task {TaskTable.Id(id)} is not among the last {history.Size} that ended (ps-terminated lists them)");
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"task {TaskTable.Id(task.Id)}: {task.Method}, {task.How}, {TaskTable.Age(DateTimeOffset.UtcNow - task.Ended)} ago ({ConsoleProtocol.Timestamp(task.Ended)})");
        text.Append(task.Lived is { } lived ? $", lived {TaskTable.Age(lived)}\n" : "\n");
        if (task.Exception is not null)
            text.Append("  exception: ").Append(task.Exception).Append('\n');
        text.Append(task.LastParkedAt is { } at ? $"  last parked at {at.File}:{at.Line.ToString(CultureInfo.InvariantCulture)}\n" : "  last parked at: unknown\n");
        text.Append("  last async stack (root first):\n");
        foreach (var frame in task.Stack)
            text.Append("    ").Append(frame.Method).Append(frame.File is null ? "" : $" at {frame.File}:{frame.Line?.ToString(CultureInfo.InvariantCulture)}").Append('\n');
        text.Append(task.CreatedAt is { } c ? $"  created at {c.File}:{c.Line.ToString(CultureInfo.InvariantCulture)}{(c.Method is null ? "" : " in " + c.Method)}\n"
            : task.Lived is null ? "  created at: unknown (" + TaskCommands.NeedsDebugMode + ")\n" : "  created at: unknown\n");
        return new ConsoleReply(text.ToString(), w => Write(w, task));
    }

    private const string Off = "the history of ended tasks is off (ASYNCLENS_CONSOLE_HISTORY=0): start the app with a size from 1 to 100000 (default 1000)";

    private static void Write(Utf8JsonWriter w, EndedTask t)
    {
        w.WriteStartObject();
        w.WriteNumber("id", t.Id);
        w.WriteString("method", t.Method);
        w.WriteString("how", t.How);
        if (t.Exception is null)
            w.WriteNull("exception");
        else
            w.WriteString("exception", t.Exception);
        w.WritePropertyName("lastParkedAt");
        JsonTaskDump.Location(w, t.LastParkedAt, inline: false);
        w.WriteString("ended", t.Ended.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        if (t.Lived is { } lived)
            w.WriteNumber("lived", Math.Round(lived.TotalSeconds, 3));
        else
            w.WriteNull("lived");
        w.WritePropertyName("createdAt");
        JsonTaskDump.Location(w, t.CreatedAt, inline: false);
        Reporting.JsonFormatter.Frames(w, "stack", t.Stack);
        w.WriteEndObject();
    }
}
