using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens.Inventory;

/// <summary>Turns a <see cref="TaskGraph"/> into the public <see cref="PendingTask"/> list.</summary>
internal sealed class PendingTasks(Func<int, TaskRecord?>? records, CreationSites? sites)
{
    public IReadOnlyList<PendingTask> From(TaskGraph graph, long now) => Project(graph, now).ToList();

    /// <summary>The tasks one by one, by id: a dump writes each and lets it go.</summary>
    public IEnumerable<PendingTask> Project(TaskGraph graph, long now)
    {
        var code = graph.Nodes.Where(n => n.IsCode).ToArray();
        // Task ids first (1, 2, ...), then work without one (-1, -2, ...: ~1, ~2 in the text table).
        Array.Sort(code, static (a, b) => a.Id > 0 == b.Id > 0 ? Math.Abs(a.Id).CompareTo(Math.Abs(b.Id)) : b.Id.CompareTo(a.Id));
        var texts = new NodeTextCache();
        foreach (var node in code)
            yield return Of(node, now, texts);
    }

    /// <summary>One node as a <see cref="PendingTask"/> (the console's <c>where</c> asks for a few, not all).</summary>
    public PendingTask Of(TaskNode node, long now, NodeTextCache texts)
    {
        var text = texts.Of(node);
        var record = node.Id > 0 && records is not null ? records((int)node.Id) : null;
        var awaiting = new AwaitedWork[node.Awaits.Count];
        for (var i = 0; i < awaiting.Length; i++)
        {
            var a = node.Awaits[i];
            awaiting[i] = new AwaitedWork(a.Id, NodeTexts.KindOf(a), texts.Of(a).Title);
        }
        var awaitedBy = new long[node.AwaitedBy.Count];
        for (var i = 0; i < awaitedBy.Length; i++)
            awaitedBy[i] = node.AwaitedBy[i].Id;
        return new PendingTask
        {
            Id = node.Id,
            Kind = NodeTexts.KindOf(node),
            Method = text.Title,
            State = NodeTexts.StateOf(node),
            AwaitIndex = node.Kind == NodeKind.AsyncMethod && AsyncState.IsParked(node.State) ? node.State : null,
            ParkedAt = node.Kind == NodeKind.AsyncMethod ? text.At : null, // a delegate's line is where it starts, not an await
            Awaiting = awaiting,
            AwaitedBy = awaitedBy,
            IsRoot = awaitedBy.Length == 0,
            BlockedThreadWaits = node.BlockedThreadWaits,
            CreatedAt = record is null || sites is null ? null : CreatedAt(node, record, sites),
            Age = record is null ? null : TimeSpan.FromTicks(Math.Max(0, now - record.Created)),
        };
    }

    private static SourceLine? CreatedAt(TaskNode node, TaskRecord record, CreationSites sites)
    {
        var code = node.Box?.Symbols.Kickoff ?? (System.Reflection.MethodBase?)node.DelegateMethod;
        return node.Target is Task task ? sites.Resolve(record, code, RawAsyncStack.Capture(task)) : sites.Resolve(record, code, null);
    }
}
