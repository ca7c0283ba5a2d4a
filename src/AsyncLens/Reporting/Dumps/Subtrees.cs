using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// What a node and everything it awaits read as, for coalescing: two subtrees with the same shape are the
/// same stack of code parked at the same lines (10,000 requests waiting at one await are one subtree).
/// Each distinct shape gets a number, its line plus the numbers of its children's shapes, so a snapshot of
/// 100,000 nodes hashes short keys, and nothing here recurses (a 10,000-deep recursion is walked in a loop).
/// </summary>
internal sealed class Subtrees
{
    private const int Cycle = -1;

    private readonly NodeTextCache _texts = new();
    private readonly Dictionary<TaskNode, int> _ids = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, int> _shapes = new(StringComparer.Ordinal);
    private readonly List<Shape> _byId = [];
    private readonly Dictionary<string, string> _awaiting = new(StringComparer.Ordinal);

    public NodeText Text(TaskNode node) => _texts.Of(node);

    public string Line(TaskNode node) => _texts.Line(node);

    /// <summary>"awaiting X", one string per X however many leaves await one.</summary>
    public string Awaiting(string what)
    {
        if (!_awaiting.TryGetValue(what, out var text))
            _awaiting[what] = text = "awaiting " + what;
        return text;
    }

    /// <summary>Nodes grouped by identical subtree, most numerous first, then by text.</summary>
    public List<(TaskNode First, int Count)> Group(IEnumerable<TaskNode> nodes)
    {
        var groups = new Dictionary<int, (TaskNode First, int Count)>();
        foreach (var node in nodes)
        {
            var id = Id(node);
            groups[id] = groups.TryGetValue(id, out var g) ? (g.First, g.Count + 1) : (node, 1);
        }
        var list = groups.Select(g => (g.Key, g.Value.First, g.Value.Count)).ToList();
        list.Sort((a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : Compare(a.Key, b.Key));
        return list.ConvertAll(g => (g.First, g.Count));
    }

    private int Id(TaskNode root)
    {
        if (_ids.TryGetValue(root, out var known))
            return known;
        // Post-order without recursion: a node is numbered once every child is. A child still open is an
        // ancestor on the current path: an await cycle, cut there.
        var open = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        var work = new Stack<(TaskNode Node, bool ChildrenDone)>();
        work.Push((root, false));
        while (work.Count > 0)
        {
            var (node, childrenDone) = work.Pop();
            if (_ids.ContainsKey(node))
                continue;
            if (!childrenDone)
            {
                if (!open.Add(node))
                    continue;
                work.Push((node, true));
                foreach (var child in node.Awaits)
                {
                    if (!_ids.ContainsKey(child) && !open.Contains(child))
                        work.Push((child, false));
                }
                continue;
            }
            var children = new Dictionary<int, int>();
            foreach (var child in node.Awaits)
            {
                var id = _ids.TryGetValue(child, out var c) ? c : Cycle;
                children[id] = children.GetValueOrDefault(id) + 1;
            }
            var sorted = children.Select(kv => (Id: kv.Key, Count: kv.Value)).ToList();
            sorted.Sort((a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : Compare(a.Id, b.Id));
            var line = Line(node);
            var key = sorted.Count == 0 ? line : line + "\u0001" + string.Join(" ", sorted.Select(c => $"{c.Count}*{c.Id}"));
            if (!_shapes.TryGetValue(key, out var shape))
            {
                _shapes[key] = shape = _byId.Count;
                _byId.Add(new Shape(line, sorted));
            }
            _ids[node] = shape;
            open.Remove(node);
        }
        return _ids[root];
    }

    // A total order on shapes that does not depend on the order they were numbered in: by line, then by
    // children, depth first. Equal shapes have equal numbers, so the walk only goes down while lines agree.
    private int Compare(int a, int b)
    {
        var work = new Stack<(Shape X, Shape Y, int Child)>();
        var head = Head(a, b);
        if (head != 0 || a == b)
            return head;
        work.Push((_byId[a], _byId[b], 0));
        while (work.Count > 0)
        {
            var (x, y, i) = work.Pop();
            if (i >= Math.Min(x.Children.Count, y.Children.Count))
            {
                if (x.Children.Count != y.Children.Count)
                    return x.Children.Count.CompareTo(y.Children.Count);
                continue;
            }
            work.Push((x, y, i + 1));
            var (cx, cy) = (x.Children[i], y.Children[i]);
            if (cx.Count != cy.Count)
                return cy.Count.CompareTo(cx.Count);
            head = Head(cx.Id, cy.Id);
            if (head != 0)
                return head;
            if (cx.Id != cy.Id)
                work.Push((_byId[cx.Id], _byId[cy.Id], 0));
        }
        return 0;
    }

    private int Head(int a, int b) =>
        a == b ? 0 : a == Cycle ? -1 : b == Cycle ? 1 : string.CompareOrdinal(_byId[a].Line, _byId[b].Line);

    private sealed record Shape(string Line, List<(int Id, int Count)> Children);
}
