using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// The <c>stacks</c> dump: one async stack per leaf (async work that awaits no other code), root to leaf,
/// each frame <c>Method at File.cs:line</c>, then what the leaf awaits. Identical stacks print once with <c>xN</c>.
/// </summary>
internal static class StacksDump
{
    public static void Write(TextWriter writer, TaskGraph graph, DumpHeader header)
    {
        var stacks = Coalesce(graph, new Subtrees());
        writer.Write(header.Line(graph, string.Create(CultureInfo.InvariantCulture, $" in {stacks.Count} async stacks")) + "\n");
        foreach (var stack in stacks)
        {
            writer.Write("\n");
            writer.Write("x" + stack.Count.ToString(CultureInfo.InvariantCulture) + "\n");
            foreach (var frame in stack.Frames)
                writer.Write("    " + frame + "\n");
            writer.Write("    " + stack.Awaiting + "\n");
        }
    }

    /// <summary>Every distinct stack with how many leaves share it: most numerous first. An await cycle has no leaf: it is one stack of its own.</summary>
    public static List<CoalescedStack> Coalesce(TaskGraph graph, Subtrees subtrees)
    {
        var stacks = new Dictionary<string, CoalescedStack>(StringComparer.Ordinal);
        void Add(TaskNode leaf, List<TaskNode> path, string awaiting)
        {
            var frames = path.Select(n => subtrees.Text(n)).ToList();
            var key = string.Join("\n", frames) + "\n" + awaiting;
            if (stacks.TryGetValue(key, out var existing))
                existing.Add(leaf);
            else
                stacks[key] = new CoalescedStack(frames, awaiting, leaf);
        }
        foreach (var leaf in graph.Nodes)
        {
            if (leaf.IsCode && !leaf.Awaits.Any(a => a.IsCode))
                Add(leaf, Path(leaf), Awaiting(leaf, subtrees));
        }
        foreach (var start in graph.Roots.Where(r => r.InCycle))
        {
            var cycle = Cycle(start);
            Add(start, cycle, $"awaiting {subtrees.Text(start).Title} again: an await cycle (a deadlock)");
        }
        return stacks.Values.OrderByDescending(s => s.Count).ThenBy(s => s.Frames[0].ToString(), StringComparer.Ordinal).ToList();
    }

    // From a node of a cycle, down through what each awaits, until the cycle closes.
    private static List<TaskNode> Cycle(TaskNode start)
    {
        var path = new List<TaskNode>();
        var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        for (var node = start; node is not null && seen.Add(node); node = node.Awaits.FirstOrDefault(a => a.IsCode))
            path.Add(node);
        return path;
    }

    // Root first: up through the first awaiter of each node.
    private static List<TaskNode> Path(TaskNode leaf)
    {
        var path = new List<TaskNode>();
        var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        for (var node = leaf; node is not null && seen.Add(node); node = node.AwaitedBy.Count > 0 ? node.AwaitedBy[0] : null)
            path.Add(node);
        path.Reverse();
        return path;
    }

    private static string Awaiting(TaskNode leaf, Subtrees subtrees)
    {
        var what = leaf.Awaits.Count > 0
            ? "awaiting " + string.Join(", ", leaf.Awaits.Select(a => subtrees.Text(a).Title).Order(StringComparer.Ordinal))
            : leaf.Kind switch
            {
                NodeKind.DelegateTask or NodeKind.Combinator => NodeTexts.StateOf(leaf),
                _ => leaf.State switch
                {
                    -1 => "running",
                    >= 0 when leaf.AwaitsYield => "awaiting Task.Yield",
                    >= 0 => "awaiting something that is not a task (a custom awaiter)",
                    _ when leaf.Box!.IsIterator => "paused at yield return",
                    _ => "waiting",
                },
            };
        return what + (leaf.BlockedThreadWaits ? "; a thread is blocked waiting for it" : "");
    }
}

/// <summary>A distinct async stack and the leaves that share it.</summary>
internal sealed class CoalescedStack(List<NodeText> frames, string awaiting, TaskNode first)
{
    public List<NodeText> Frames { get; } = frames;

    public string Awaiting { get; } = awaiting;

    public List<TaskNode> Leaves { get; } = [first];

    public int Count => Leaves.Count;

    public void Add(TaskNode leaf) => Leaves.Add(leaf);
}
