using System.Globalization;
using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// The <c>stacks</c> dump: one async stack per chain of awaiters from a root down to a leaf (async work that awaits
/// no other code), root to leaf, each frame <c>Method at File.cs:line</c>, then what the leaf awaits. A task several
/// await (fan-in) ends, or sits in, one stack per awaiter, marked <c>&lt;- one task awaited by N</c> in each.
/// Identical stacks print once with <c>xN</c>.
/// </summary>
internal static class StacksDump
{
    /// <summary>Stacks through one node at most (fan-in over fan-in multiplies them); past it, the rest are left out.</summary>
    private const int MaxPathsPerNode = 10_000;

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

    /// <summary>Every distinct stack with how many chains share it: most numerous first. An await cycle has no leaf: it is one stack of its own.</summary>
    public static List<CoalescedStack> Coalesce(TaskGraph graph, Subtrees subtrees)
    {
        var paths = new Paths(subtrees);
        var stacks = new Dictionary<(int Path, string Awaiting), CoalescedStack>();
        void Add(TaskNode leaf, int path, int chains, string awaiting)
        {
            if (!stacks.TryGetValue((path, awaiting), out var stack))
                stacks[(path, awaiting)] = stack = new CoalescedStack(paths.Frames(path), awaiting);
            stack.Add(leaf, chains);
        }
        foreach (var leaf in graph.Nodes)
        {
            if (!leaf.IsCode || AwaitsCode(leaf))
                continue;
            var awaiting = Awaiting(leaf, subtrees);
            foreach (var (path, chains) in paths.Of(leaf))
                Add(leaf, path, chains, awaiting);
        }
        foreach (var start in graph.Roots.Where(r => r.InCycle))
            Add(start, paths.Intern(Cycle(start), Paths.None), 1, $"awaiting {subtrees.Text(start).Title} again: an await cycle (a deadlock)");
        return stacks.Values.OrderByDescending(s => s.Count)
            .ThenBy(s => string.Join("\n", s.Frames) + "\n" + s.Awaiting, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The async stacks from the roots down to <paramref name="node"/> (its own frame last), and through how many chains
    /// of awaiters each: one, unless something above it is awaited by several (the console's <c>where</c>).
    /// </summary>
    public static List<(List<StackFrame> Frames, int Chains)> Above(TaskNode node, Subtrees subtrees)
    {
        var paths = new Paths(subtrees);
        return paths.Of(node).Select(p => (paths.Frames(p.Path), p.Chains)).ToList();
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
    /// callers share every number above them and each node is walked once. A node awaited by several has one
    /// stack per awaiter's stack.
    /// </summary>
    private sealed class Paths(Subtrees subtrees)
    {
        public const int None = -1;

        // A node's stacks: most nodes have one, through one chain (_one); the others, each with its chains (_many).
        private readonly Dictionary<TaskNode, int> _one = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<TaskNode, (int Path, int Chains)[]> _many = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(int Parent, StackFrame Frame), int> _ids = [];
        private readonly List<(int Parent, StackFrame Frame)> _byId = [];
        private readonly HashSet<TaskNode> _open = new(ReferenceEqualityComparer.Instance);
        private readonly Stack<(TaskNode Node, bool ParentsDone)> _work = new();

        /// <summary>
        /// The stacks of <paramref name="leaf"/>, and through how many chains of awaiters each: up through every
        /// awaiter of each node, to a root (identical chains are one stack, counted). An awaiter already on the way
        /// up (an await cycle) ends the way there, as a root does. Walked with a stack of its own.
        /// </summary>
        public IEnumerable<(int Path, int Chains)> Of(TaskNode leaf)
        {
            _work.Push((leaf, false));
            while (_work.Count > 0)
            {
                var (node, parentsDone) = _work.Pop();
                if (Known(node))
                    continue;
                if (!parentsDone)
                {
                    _open.Add(node);
                    _work.Push((node, true));
                    foreach (var parent in node.AwaitedBy)
                    {
                        if (!Known(parent) && !_open.Contains(parent))
                            _work.Push((parent, false));
                    }
                    continue;
                }
                _open.Remove(node);
                var frame = new StackFrame(subtrees.Text(node), node.AwaitedBy.Count);
                if (node.AwaitedBy.Count == 1 && _one.TryGetValue(node.AwaitedBy[0], out var above))
                {
                    _one[node] = Intern(above, frame);
                    continue;
                }
                var chains = new Dictionary<int, int>();
                foreach (var parent in node.AwaitedBy)
                {
                    foreach (var (path, count) in PathsOf(parent))
                    {
                        var longer = Intern(path, frame);
                        if (chains.Count < MaxPathsPerNode || chains.ContainsKey(longer))
                            chains[longer] = (int)Math.Min(int.MaxValue, (long)chains.GetValueOrDefault(longer) + count);
                    }
                }
                if (chains.Count == 0)
                    _one[node] = Intern(None, frame); // a root, or an awaiter cycle closing here
                else if (chains.Count == 1 && chains.First() is { Value: 1 } only)
                    _one[node] = only.Key;
                else
                    _many[node] = [.. chains.Select(c => (c.Key, c.Value))];
            }
            return PathsOf(leaf);
        }

        private bool Known(TaskNode node) => _one.ContainsKey(node) || _many.ContainsKey(node);

        private IEnumerable<(int Path, int Chains)> PathsOf(TaskNode node) =>
            _one.TryGetValue(node, out var path) ? [(path, 1)] : _many.TryGetValue(node, out var paths) ? paths : [];

        public int Intern(List<TaskNode> rootFirst, int parent)
        {
            foreach (var node in rootFirst)
                parent = Intern(parent, new StackFrame(subtrees.Text(node), 0));
            return parent;
        }

        public List<StackFrame> Frames(int id)
        {
            var frames = new List<StackFrame>();
            for (; id != None; id = _byId[id].Parent)
                frames.Add(_byId[id].Frame);
            frames.Reverse();
            return frames;
        }

        private int Intern(int parent, StackFrame frame)
        {
            if (!_ids.TryGetValue((parent, frame), out var id))
            {
                _ids[(parent, frame)] = id = _byId.Count;
                _byId.Add((parent, frame));
            }
            return id;
        }
    }

    /// <summary>What a stack's last line says <paramref name="leaf"/> waits for ("awaiting Task.Delay", "running").</summary>
    public static string Awaiting(TaskNode leaf, Subtrees subtrees)
    {
        var what = leaf.Awaits.Count == 1 && !leaf.BlockedThreadWaits
            ? subtrees.Awaiting(subtrees.Text(leaf.Awaits[0]).Title + (leaf.Awaits[0].AwaitedBy.Count > 1 ? " <- " + NodeTexts.Shared(leaf.Awaits[0].AwaitedBy.Count) : ""))
            : leaf.Awaits.Count > 0
            ? "awaiting " + string.Join(", ", leaf.Awaits.Select(a => subtrees.Text(a).Title).Order(StringComparer.Ordinal))
            : leaf.Kind switch
            {
                NodeKind.DelegateTask or NodeKind.Combinator => NodeTexts.StateOf(leaf),
                _ => leaf.State switch
                {
                    AsyncState.Running => "running",
                    var s when AsyncState.IsParked(s) => leaf.Resuming ? "resuming: what it awaited has completed"
                        : leaf.AwaitsYield ? "awaiting Task.Yield" : "awaiting something that is not a task (a custom awaiter)",
                    _ when leaf.IsIterator => "paused at yield return",
                    _ => "waiting",
                },
            };
        return what + (leaf.BlockedThreadWaits ? "; a thread is blocked waiting for it" : "");
    }
}

/// <summary>One frame of an async stack: a node's text, and how many await it (more than one: a task several await).</summary>
internal readonly record struct StackFrame(NodeText Text, int Awaiters)
{
    public override string ToString() => Awaiters > 1 ? $"{Text} <- {NodeTexts.Shared(Awaiters)}" : Text.ToString();
}

/// <summary>A distinct async stack, how many chains of awaiters read as it, and the leaves that end them.</summary>
internal sealed class CoalescedStack(List<StackFrame> frames, string awaiting)
{
    public List<StackFrame> Frames { get; } = frames;

    public string Awaiting { get; } = awaiting;

    public List<TaskNode> Leaves { get; } = [];

    /// <summary>Chains of awaiters: a leaf awaited by 20 (through a task 20 await) counts 20.</summary>
    public int Count { get; private set; }

    public void Add(TaskNode leaf, int chains)
    {
        Leaves.Add(leaf);
        Count = (int)Math.Min(int.MaxValue, (long)Count + chains);
    }
}
