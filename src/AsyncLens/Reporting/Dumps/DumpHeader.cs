using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>The first line of a dump: how much is pending, in which process, when.</summary>
internal sealed record DumpHeader(int ProcessId, DateTimeOffset Timestamp)
{
    public string Line(TaskGraph graph, string what) =>
        string.Create(CultureInfo.InvariantCulture,
            $"asynclens: {graph.Nodes.Count(n => n.Kind is NodeKind.AsyncMethod or NodeKind.DelegateTask)} pending tasks{what} (pid {ProcessId}, {Timestamp.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ})");
}
