using System.CommandLine;
using System.Globalization;
using System.Text;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Cli.Commands;

/// <summary><c>asynclens ps &lt;pid&gt; [--format text|json|csv]</c>: a table of the pending async work of a process, read from outside.</summary>
internal static class PsCommand
{
    public static Command Create()
    {
        var options = new InspectOptions("text", "json", "csv");
        return options.Create("ps",
            "List the pending async methods of a running .NET process (or of a core dump): id, state, method, the await it is parked at, what it awaits, what awaits it. Needs nothing in the process.",
            (parse, target, symbols) =>
            {
                var (graph, reader) = InspectOptions.ReadTasks(target, symbols);
                var figures = target.Figures;
                target.Dispose();
                var header = new DumpHeader(target.ProcessId, target.TakenAt);
                var tasks = new PendingTasks(null, null);
                switch (options.FormatOf(parse))
                {
                    case "json":
                        TaskInventory.Write(Console.Out, graph, header, TaskDumpFormat.Json, tasks);
                        break;
                    case "csv":
                        WriteCsv(Console.Out, tasks.Project(graph, 0));
                        break;
                    default:
                        WriteTable(Console.Out, graph, header, tasks.Project(graph, 0).ToList());
                        break;
                }
                Console.Out.Flush();
                options.WriteStats(parse, target, reader, graph, figures);
                return 0;
            });
    }

    private static readonly string[] s_columns = ["ID", "STATE", "METHOD", "PARKED AT", "AWAITING", "AWAITED BY", "ROOT"];

    /// <summary>Aligned columns; a parked-at line is shown by file name (the JSON and CSV have the full path).</summary>
    public static void WriteTable(TextWriter writer, TaskGraph graph, DumpHeader header, IReadOnlyList<PendingTask> tasks)
    {
        writer.Write(header.Line(graph, graph.Roots.Count, "root") + "\n");
        if (tasks.Count == 0)
            return;
        var rows = new List<string[]> { s_columns };
        foreach (var t in tasks)
        {
            rows.Add([
                Id(t.Id),
                t.State,
                t.Method + (t.BlockedThreadWaits ? " (a thread is blocked waiting for it)" : ""),
                t.ParkedAt is { } at ? $"{Path.GetFileName(at.File)}:{at.Line.ToString(CultureInfo.InvariantCulture)}" : "-",
                List(t.Awaiting.Select(a => a.Kind == "awaited" ? a.Description : Id(a.Id)).ToList()),
                List(t.AwaitedBy.Select(Id).ToList()),
                t.IsRoot ? "yes" : "no",
            ]);
        }
        var widths = new int[s_columns.Length];
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        }
        writer.Write("\n");
        var line = new StringBuilder();
        foreach (var row in rows)
        {
            line.Clear();
            for (var c = 0; c < row.Length; c++)
            {
                line.Append(row[c]);
                if (c < row.Length - 1)
                    line.Append(' ', widths[c] - row[c].Length + 2);
            }
            writer.Write(line.ToString().TrimEnd() + "\n");
        }
    }

    // A Task.WhenAll of 1000 awaits 1000 ids: the table shows three and a count (the JSON and CSV have them all).
    private static string List(List<string> items) => items.Count switch
    {
        0 => "-",
        <= 3 => string.Join(", ", items),
        _ => string.Join(", ", items.Take(3)) + string.Create(CultureInfo.InvariantCulture, $" +{items.Count - 3} more"),
    };

    // Task ids as the runtime has them; work without one (a task whose Id nobody asked for, a pooled box) is ~N.
    private static string Id(long id) => id > 0 ? id.ToString(CultureInfo.InvariantCulture) : "~" + (-id).ToString(CultureInfo.InvariantCulture);

    public static void WriteCsv(TextWriter writer, IEnumerable<PendingTask> tasks)
    {
        writer.Write("id,kind,state,method,file,line,awaitIndex,awaiting,awaitedBy,root,blockedThreadWaits\n");
        foreach (var t in tasks)
        {
            string[] cells =
            [
                t.Id.ToString(CultureInfo.InvariantCulture),
                t.Kind,
                t.State,
                t.Method,
                t.ParkedAt?.File ?? "",
                t.ParkedAt?.Line.ToString(CultureInfo.InvariantCulture) ?? "",
                t.AwaitIndex?.ToString(CultureInfo.InvariantCulture) ?? "",
                string.Join(";", t.Awaiting.Select(a => a.Kind == "awaited" ? a.Description : a.Id.ToString(CultureInfo.InvariantCulture))),
                string.Join(";", t.AwaitedBy.Select(id => id.ToString(CultureInfo.InvariantCulture))),
                t.IsRoot ? "true" : "false",
                t.BlockedThreadWaits ? "true" : "false",
            ];
            writer.Write(string.Join(",", cells.Select(Csv)) + "\n");
        }
    }

    private static string Csv(string cell) =>
        cell.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;
}
