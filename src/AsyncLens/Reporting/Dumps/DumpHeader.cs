using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>The first line of a dump: how much is pending, in which process, when.</summary>
internal sealed record DumpHeader(int ProcessId, DateTimeOffset Timestamp)
{
    /// <summary>"asynclens: 2 pending tasks in 1 tree (pid 42, ...)": tasks are async methods and delegates (not combinators).</summary>
    public string Line(TaskGraph graph, int groups, string group)
    {
        var tasks = graph.Nodes.Count(n => n.Kind is NodeKind.AsyncMethod or NodeKind.DelegateTask);
        return string.Create(CultureInfo.InvariantCulture,
            $"asynclens: {Plural(tasks, "pending task")} in {Plural(groups, group)} (pid {ProcessId}, {Timestamp.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ})");
    }

    private static string Plural(int count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");
}
