using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Inventory;

/// <summary>Turns a <see cref="TaskGraph"/> into the public <see cref="PendingTask"/> list.</summary>
internal sealed class PendingTasks(Func<int, TaskRecord?>? records, CreationSites? sites)
{
    public IReadOnlyList<PendingTask> From(TaskGraph graph, long now)
    {
        var list = new List<PendingTask>();
        foreach (var node in graph.Nodes)
        {
            if (!node.IsCode)
                continue;
            var text = NodeTexts.Of(node);
            var record = node.Id > 0 && records is not null ? records((int)node.Id) : null;
            list.Add(new PendingTask
            {
                Id = node.Id,
                Kind = NodeTexts.KindOf(node),
                Method = text.Title,
                State = NodeTexts.StateOf(node),
                AwaitIndex = node.Kind == NodeKind.AsyncMethod && node.State >= 0 ? node.State : null,
                ParkedAt = text.At,
                Awaiting = node.Awaits.Select(a => new AwaitedWork(a.Id, NodeTexts.KindOf(a), NodeTexts.Of(a).Title)).ToList(),
                AwaitedBy = node.AwaitedBy.Select(p => p.Id).ToList(),
                IsRoot = node.AwaitedBy.Count == 0,
                BlockedThreadWaits = node.BlockedThreadWaits,
                CreatedAt = record is null || sites is null ? null : CreatedAt(node, record, sites),
                Age = record is null ? null : TimeSpan.FromTicks(Math.Max(0, now - record.Created)),
            });
        }
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    private static SourceLine? CreatedAt(TaskNode node, TaskRecord record, CreationSites sites)
    {
        var code = node.Box?.Symbols.Kickoff ?? (System.Reflection.MethodBase?)node.DelegateMethod;
        return node.Target is Task task ? sites.Resolve(record, code, RawAsyncStack.Capture(task)) : sites.Resolve(record, code, null);
    }
}
