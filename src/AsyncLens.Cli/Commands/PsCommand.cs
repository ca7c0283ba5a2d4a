using System.CommandLine;
using System.Globalization;
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
                        TaskTable.Write(Console.Out, header.Line(graph, graph.Roots.Count, "root"), tasks.Project(graph, 0).ToList());
                        break;
                }
                Console.Out.Flush();
                options.WriteStats(parse, target, reader, graph, figures);
                return 0;
            });
    }

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
