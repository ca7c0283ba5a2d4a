using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// What a node and everything it awaits read as, for coalescing: two subtrees with the same text are the
/// same stack of code parked at the same lines (10,000 requests waiting at one await are one subtree).
/// </summary>
internal sealed class Subtrees
{
    private readonly Dictionary<TaskNode, string> _signatures = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<TaskNode> _inProgress = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<TaskNode, NodeText> _texts = new(ReferenceEqualityComparer.Instance);

    public NodeText Text(TaskNode node)
    {
        if (!_texts.TryGetValue(node, out var text))
            _texts[node] = text = NodeTexts.Of(node);
        return text;
    }

    public string Line(TaskNode node) =>
        Text(node) + (node.BlockedThreadWaits ? " <- a thread is blocked waiting for it" : "") + (node.InCycle ? " <- in an await cycle: a deadlock" : "");

    public string Signature(TaskNode node)
    {
        if (_signatures.TryGetValue(node, out var signature))
            return signature;
        if (!_inProgress.Add(node))
            return "(cycle)";
        var children = Group(node.Awaits).Select(g => $"{g.Count}*{g.Signature}");
        signature = Line(node) + "{" + string.Join("|", children) + "}";
        _inProgress.Remove(node);
        _signatures[node] = signature;
        return signature;
    }

    /// <summary>Nodes grouped by identical subtree, most numerous first, then by text.</summary>
    public List<(TaskNode First, int Count, string Signature)> Group(IEnumerable<TaskNode> nodes) =>
        nodes.GroupBy(Signature, StringComparer.Ordinal)
            .Select(g => (First: g.First(), Count: g.Count(), Signature: g.Key))
            .OrderByDescending(g => g.Count)
            .ThenBy(g => g.Signature, StringComparer.Ordinal)
            .ToList();
}
