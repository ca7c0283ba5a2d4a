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
        writer.Write(header.Line(graph, stacks.Count, "async stack") + "\n");
        foreach (var stack in stacks)
        {
            writer.Write("\n");
            writer.Write("x" + stack.Count.ToString(CultureInfo.InvariantCulture) + "\n");
            for (var i = 0; i < stack.Frames.Count;)
            {
                // A recursion prints as its frame and how often it repeats.
                var run = 1;
                while (i + run < stack.Frames.Count && stack.Frames[i + run] == stack.Frames[i])
                    run++;
                writer.Write("    " + stack.Frames[i] + "\n");
                if (run > 2)
                    writer.Write(string.Create(CultureInfo.InvariantCulture, $"    ... the same frame {run - 1} more times (recursion)\n"));
                else if (run == 2)
                    writer.Write("    " + stack.Frames[i] + "\n");
                i += run;
            }
            writer.Write("    " + stack.Awaiting + "\n");
        }
    }

    /// <summary>Every distinct stack with how many leaves share it: most numerous first. An await cycle has no leaf: it is one stack of its own.</summary>
    public static List<CoalescedStack> Coalesce(TaskGraph graph, Subtrees subtrees)
    {
        var paths = new Paths(subtrees);
        var stacks = new Dictionary<(int Path, string Awaiting), CoalescedStack>();
        void Add(TaskNode leaf, int path, string awaiting)
        {
            if (stacks.TryGetValue((path, awaiting), out var existing))
                existing.Add(leaf);
            else
                stacks[(path, awaiting)] = new CoalescedStack(paths.Frames(path), awaiting, leaf);
        }
        foreach (var leaf in graph.Nodes)
        {
            if (leaf.IsCode && !AwaitsCode(leaf))
                Add(leaf, paths.Of(leaf), Awaiting(leaf, subtrees));
        }
        foreach (var start in graph.Roots.Where(r => r.InCycle))
            Add(start, paths.Intern(Cycle(start), Paths.None), $"awaiting {subtrees.Text(start).Title} again: an await cycle (a deadlock)");
        return stacks.Values.OrderByDescending(s => s.Count)
            .ThenBy(s => string.Join("\n", s.Frames) + "\n" + s.Awaiting, StringComparer.Ordinal)
            .ToList();
    }

    private static bool AwaitsCode(TaskNode node)
    {
        foreach (var child in node.Awaits)
        {
            if (child.IsCode)
                return true;
        }
        return false;
    }

    // From a node of a cycle (taken as its root), down through what each awaits, until the cycle closes.
    private static List<TaskNode> Cycle(TaskNode start)
    {
        var path = new List<TaskNode>();
        var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        for (var node = start; node is not null && seen.Add(node); node = node.Awaits.FirstOrDefault(a => a.IsCode))
            path.Add(node);
        return path;
    }

    /// <summary>
    /// Stacks as numbers: a stack is its parent stack plus one frame, so 100,000 leaves under the same
    /// callers share every number above them and each node is walked once.
    /// </summary>
    private sealed class Paths(Subtrees subtrees)
    {
        public const int None = -1;

        private readonly Dictionary<TaskNode, int> _ofNode = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(int Parent, NodeText Frame), int> _ids = [];
        private readonly List<(int Parent, NodeText Frame)> _byId = [];

        /// <summary>The stack of <paramref name="leaf"/>: up through the first awaiter of each node, to a root or back to itself.</summary>
        public int Of(TaskNode leaf)
        {
            var up = new List<TaskNode>();
            var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
            var parent = None;
            for (var node = leaf; node is not null && seen.Add(node); node = node.AwaitedBy.Count > 0 ? node.AwaitedBy[0] : null)
            {
                if (_ofNode.TryGetValue(node, out var known))
                {
                    parent = known;
                    break;
                }
                up.Add(node);
            }
            for (var i = up.Count - 1; i >= 0; i--)
                _ofNode[up[i]] = parent = Intern(parent, subtrees.Text(up[i]));
            return parent;
        }

        public int Intern(List<TaskNode> rootFirst, int parent)
        {
            foreach (var node in rootFirst)
                parent = Intern(parent, subtrees.Text(node));
            return parent;
        }

        public List<NodeText> Frames(int id)
        {
            var frames = new List<NodeText>();
            for (; id != None; id = _byId[id].Parent)
                frames.Add(_byId[id].Frame);
            frames.Reverse();
            return frames;
        }

        private int Intern(int parent, NodeText frame)
        {
            if (!_ids.TryGetValue((parent, frame), out var id))
            {
                _ids[(parent, frame)] = id = _byId.Count;
                _byId.Add((parent, frame));
            }
            return id;
        }
    }

    private static string Awaiting(TaskNode leaf, Subtrees subtrees)
    {
        var what = leaf.Awaits.Count == 1 && !leaf.BlockedThreadWaits
            ? subtrees.Awaiting(subtrees.Text(leaf.Awaits[0]).Title)
            : leaf.Awaits.Count > 0
            ? "awaiting " + string.Join(", ", leaf.Awaits.Select(a => subtrees.Text(a).Title).Order(StringComparer.Ordinal))
            : leaf.Kind switch
            {
                NodeKind.DelegateTask or NodeKind.Combinator => NodeTexts.StateOf(leaf),
                _ => leaf.State switch
                {
                    -1 => "running",
                    >= 0 when leaf.AwaitsYield => "awaiting Task.Yield",
                    >= 0 => "awaiting something that is not a task (a custom awaiter)",
                    _ when leaf.IsIterator => "paused at yield return",
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
