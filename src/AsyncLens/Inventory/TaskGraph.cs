using System.Collections.Concurrent;
using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Inventory;

/// <summary>
/// All pending async work at one moment, as a graph. Built from the tasks the runtime's registry holds,
/// then widened: backwards through who awaits each node (continuations, value-task sources), forwards
/// through what each awaits (the parked state machine's awaiter field, a combinator's tasks). Every node
/// is visited once, so cycles or broken chains cannot hang it. Edges are collected as pairs of indexes and
/// laid out at the end in two shared arrays: the garbage collector sees few, flat objects.
/// </summary>
internal sealed class TaskGraph
{
    private const int MaxNodes = 2_000_000;

    private static readonly FieldInfo? s_whenAllRemaining = typeof(Task).Assembly.GetType(AwaitedLayout.WhenAllType)?.GetField(AwaitedLayout.WhenAllRemaining, FieldAccessor.Instance);
    private static readonly ConcurrentDictionary<Type, Func<object, IReadOnlyList<Task?>?>?> s_combinators = new();
    private static readonly Type? s_entryType = System.Reflection.Assembly.GetEntryAssembly()?.EntryPoint is { Name: "<Main>" } entry ? entry.DeclaringType : null;

    private readonly Dictionary<object, TaskNode> _byTarget;
    private readonly List<TaskNode> _nodes;
    private readonly List<(int Parent, int Child)> _edges;
    private readonly HashSet<(int, int)> _seenEdges;
    private readonly List<Awaiter> _awaiters = new(2);
    private readonly List<RuntimeAsyncFrame> _frames = [];
    private long _nextSyntheticId = -1;
    private List<TaskNode>? _roots;

    private TaskGraph(int capacity)
    {
        _byTarget = new Dictionary<object, TaskNode>(capacity, ReferenceEqualityComparer.Instance);
        _nodes = new List<TaskNode>(capacity);
        _edges = new List<(int, int)>(capacity);
        _seenEdges = new HashSet<(int, int)>(capacity);
    }

    public IReadOnlyList<TaskNode> Nodes => _nodes;

    /// <summary>
    /// Where the trees start: async methods, delegate tasks and combinators nothing awaits, then one node of
    /// each cycle (work awaiting its own awaiters, which nothing outside awaits).
    /// </summary>
    public IReadOnlyList<TaskNode> Roots => _roots ??= FindRoots();

    /// <summary>Who awaits <paramref name="node"/>, outwards to its root: the first awaiter at each level (a cycle is followed once).</summary>
    public static List<TaskNode> AwaitedByChain(TaskNode node)
    {
        var chain = new List<TaskNode>();
        var seen = new HashSet<TaskNode> { node };
        while (node.AwaitedBy.Count > 0 && seen.Add(node.AwaitedBy[0]) && chain.Count < 256)
        {
            node = node.AwaitedBy[0];
            chain.Add(node);
        }
        return chain;
    }

    public static TaskGraph Build(IReadOnlyCollection<Task> seeds)
    {
        var graph = new TaskGraph(seeds.Count * 5 / 4);
        foreach (var task in seeds)
        {
            if (!task.IsCompleted && !Tracking.RuntimeEvents.IsDispatchTask(task))
                graph.Node(task);
        }
        graph.ExpandFrom(0);
        graph.Settle();
        graph.LayOutEdges();
        return graph;
    }

    /// <summary>
    /// A graph of nodes someone else found (the out-of-process reader), with edges (parent awaits child) as
    /// indexes into <paramref name="nodes"/>, whose <see cref="TaskNode.Index"/> must be their positions.
    /// </summary>
    public static TaskGraph FromParts(IReadOnlyList<TaskNode> nodes, IEnumerable<(int Parent, int Child)> edges)
    {
        var graph = new TaskGraph(nodes.Count);
        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].Index != i)
                throw new ArgumentException($"node {i} has index {nodes[i].Index}", nameof(nodes));
            graph._nodes.Add(nodes[i]);
        }
        foreach (var (parent, child) in edges)
            graph.Link(graph._nodes[parent], graph._nodes[child]);
        graph.LayOutEdges();
        return graph;
    }

    private List<TaskNode> FindRoots()
    {
        var roots = _nodes.Where(n => n.IsCode && n.AwaitedBy.Count == 0).ToList();
        var reached = new bool[_nodes.Count];
        var stack = new Stack<TaskNode>(roots);
        var nextOrphan = 0;
        while (true)
        {
            while (stack.Count > 0)
            {
                var node = stack.Pop();
                if (reached[node.Index])
                    continue;
                reached[node.Index] = true;
                foreach (var child in node.Awaits)
                    stack.Push(child);
            }
            // Code that no root reaches awaits in a circle: the one created first stands for its cycle.
            TaskNode? orphan = null;
            for (; nextOrphan < _nodes.Count; nextOrphan++)
            {
                var n = _nodes[nextOrphan];
                if (n.IsCode && !reached[n.Index] && (orphan is null || n.Id < orphan.Id))
                    orphan = n;
            }
            if (orphan is null)
                return roots;
            nextOrphan = 0;
            orphan.InCycle = true;
            roots.Add(orphan);
            stack.Push(orphan);
        }
    }

    private TaskNode Node(object target)
    {
        if (NodeLabels.IsIteratorStateMachine(target))
            target = NodeLabels.IteratorBox(target);
        if (_byTarget.TryGetValue(target, out var node))
            return node;
        if (RuntimeAsyncChains.IsChainTask(target))
            return ChainNodes((Task)target);
        var (kind, label) = NodeLabels.Classify(target);
        var box = kind == NodeKind.AsyncMethod ? BoxInfo.Of(target) : null;
        var combined = kind == NodeKind.Combinator ? CombinatorTasks(target) : null;
        node = new TaskNode(target, target is Task t ? t.Id : _nextSyntheticId--, kind, _nodes.Count)
        {
            Box = box,
            State = box?.ReadState(target) ?? AsyncState.Unknown,
            DelegateMethod = kind == NodeKind.DelegateTask && target is Task task ? TaskInternals.Action(task)?.Method : null,
            Label = label,
            AwaitsYield = box is { AwaitsOnlyYield: true },
            PendingCount = kind == NodeKind.Combinator && target.GetType() == s_whenAllRemaining?.DeclaringType ? s_whenAllRemaining.GetValue(target) as int? : null,
            TotalCount = combined?.Count,
        };
        return Add(node);
    }

    /// <summary>
    /// A .NET 11 runtime-async chain as one node per suspended method, linked outermost to innermost, the innermost to
    /// what it awaits: the same nodes a chain of state machine boxes makes on .NET 10. The chain's task stands for the
    /// outermost method (who awaits the task awaits that method); the others are keyed by their continuation objects.
    /// </summary>
    private TaskNode ChainNodes(Task task)
    {
        _frames.Clear();
        if (!RuntimeAsyncChains.Read(task, _frames, out var awaited) || _frames.Count == 0)
            return Add(new TaskNode(task, task.Id, NodeKind.AsyncMethod, _nodes.Count) { Description = NodeTexts.RunningChain, KindName = "async-method", StateName = "running", ChainTask = task });
        var resuming = awaited is not null && IsCompleted(awaited);
        TaskNode? outer = null, inner = null;
        for (var i = 0; i < _frames.Count; i++)
        {
            var frame = _frames[i];
            var node = Add(new TaskNode(i == 0 ? task : frame.Continuation, i == 0 ? task.Id : _nextSyntheticId--, NodeKind.AsyncMethod, _nodes.Count)
            {
                Description = NodeTexts.Frame(frame, resuming && i == _frames.Count - 1),
                KindName = "async-method",
                StateName = "parked",
                ChainTask = task,
            });
            if (inner is not null)
                Link(inner, node);
            outer ??= node;
            inner = node;
        }
        outer!.Innermost = inner;
        if (awaited is not null && !resuming)
            Link(inner!, Node(awaited));
        return outer;
    }

    private TaskNode Add(TaskNode node)
    {
        _byTarget.Add(node.Target, node);
        _nodes.Add(node);
        return node;
    }

    /// <summary>The node that does the awaiting for <paramref name="node"/>: a runtime-async chain awaits in its innermost method.</summary>
    private static TaskNode Awaiting(TaskNode node) => node.Innermost ?? node;

    /// <summary>
    /// What a parked async method awaits, read under one state: the app keeps running, and the method may resume
    /// between the reads of its state and of its awaiter field (one field serves every await of the same
    /// awaiter type). The state is written before the awaiter, so a pair with the state unchanged around the
    /// awaiter read belongs together.
    /// </summary>
    private static object? AwaitedConsistently(TaskNode node)
    {
        for (var attempt = 0; attempt < 3 && AsyncState.IsParked(node.State); attempt++)
        {
            var awaited = node.Box!.Awaited(node.Target);
            var state = node.Box.ReadState(node.Target);
            if (state == node.State)
                return awaited;
            node.State = state;
        }
        return null;
    }

    // An async Main is always waited for by the thread that runs the program (the entry point the compiler
    // adds calls GetAwaiter().GetResult()): not worth a note.
    private static bool IsAsyncEntryPoint(TaskNode node) =>
        s_entryType is not null && node.Box?.Symbols.Kickoff is { } kickoff && kickoff.DeclaringType == s_entryType
        && kickoff.Name is "Main" or "<Main>$";

    private void ExpandFrom(int first)
    {
        for (var i = first; i < _nodes.Count && _nodes.Count < MaxNodes; i++)
            Expand(_nodes[i]);
    }

    /// <summary>
    /// The app ran on while the graph was read (a busy service finishes requests during it): a method that moved to
    /// another await since it was read is read again, with what it awaits now, and so is work nothing awaited then
    /// (its caller may have awaited it since); work that completed meanwhile is left out, with its edges. Without
    /// this a request that finished during the read showed as orphan one-frame stacks, and one that moved or was
    /// still forming showed as a chain cut in two.
    /// </summary>
    private void Settle()
    {
        var read = _nodes.Count;
        var awaited = new bool[read];
        foreach (var (_, child) in _edges)
            awaited[child] = true;
        for (var i = 0; i < read; i++)
        {
            var node = _nodes[i];
            if (node.Target is Task { IsCompleted: true })
                continue;
            var now = node.Box?.ReadState(node.Target) ?? node.State;
            if (now != node.State && now != AsyncState.Unknown)
            {
                node.State = now;
                node.Resuming = false;
                Expand(node);
            }
            else if (!awaited[i] && node.IsCode)
            {
                // Read while its caller had not awaited it yet (the caller's box is made when it first awaits).
                Expand(node);
            }
        }
        ExpandFrom(read);
        LookAgainAtUnawaited();
        var keep = new int[_nodes.Count];
        var kept = new List<TaskNode>(_nodes.Count);
        foreach (var node in _nodes)
        {
            // A class state machine (Debug builds) is dropped from its box on completion: its state is then unreadable.
            var done = node.Target is Task { IsCompleted: true } || node.ChainTask is { IsCompleted: true }
                || node.Box is not null && node.State != AsyncState.Unknown && node.Box.ReadState(node.Target) == AsyncState.Unknown;
            keep[node.Index] = done ? -1 : kept.Count;
            if (!done)
                kept.Add(node);
        }
        if (kept.Count == _nodes.Count)
            return;
        _nodes.Clear();
        _nodes.AddRange(kept);
        for (var i = 0; i < _nodes.Count; i++)
            _nodes[i].Index = i;
        _edges.RemoveAll(e => keep[e.Parent] < 0 || keep[e.Child] < 0);
        for (var i = 0; i < _edges.Count; i++)
            _edges[i] = (keep[_edges[i].Parent], keep[_edges[i].Child]);
    }

    /// <summary>
    /// A caller taken off its CPU between getting a task and awaiting it (on a busy machine a thread waits milliseconds
    /// for a core) leaves the task unawaited longer than one look: code nothing awaits yet is looked at again after
    /// 2, 4, 8 and 16 ms (30 ms in all, only while some is left), so a request being formed is read as one chain.
    /// Work that is never awaited (a connection's loop, fire-and-forget) stays a root; the reader waited 30 ms more.
    /// </summary>
    private void LookAgainAtUnawaited()
    {
        for (var pause = 2; pause <= 16; pause *= 2)
        {
            var awaited = new bool[_nodes.Count];
            foreach (var (_, child) in _edges)
                awaited[child] = true;
            var waiting = new List<TaskNode>();
            for (var i = 0; i < _nodes.Count; i++)
            {
                if (!awaited[i] && _nodes[i].IsCode && _nodes[i].Target is not Task { IsCompleted: true })
                    waiting.Add(_nodes[i]);
            }
            if (waiting.Count == 0)
                return;
            Thread.Sleep(pause);
            var read = _nodes.Count;
            foreach (var node in waiting)
                Expand(node);
            ExpandFrom(read);
        }
    }

    private void Expand(TaskNode node)
    {
        // A runtime-async chain's inner frames are read with the chain; only its task has awaiters of its own.
        if (node.ChainTask is not null && !ReferenceEquals(node.Target, node.ChainTask))
            return;
        _awaiters.Clear();
        Awaiters.Of(node.Target, _awaiters);
        foreach (var awaiter in _awaiters)
        {
            if (awaiter.Node is { } parent)
                Link(Awaiting(Node(parent)), node);
            else if (awaiter.Kind == AwaiterKind.SynchronousWait && !IsAsyncEntryPoint(node))
                node.BlockedThreadWaits = true;
        }
        if (node.Kind == NodeKind.AsyncMethod && node.Box is not null && AwaitedConsistently(node) is { } awaited)
        {
            if (IsCompleted(awaited))
                node.Resuming = true;
            else
                Link(node, Node(awaited));
        }
        if (node.Kind == NodeKind.Combinator && CombinatorTasks(node.Target) is { } tasks)
        {
            foreach (var task in tasks)
            {
                if (task is { IsCompleted: false })
                    Link(node, Node(task));
            }
        }
    }

    // An edge is usually found from both ends (the parent's awaiter field, the child's continuation).
    private void Link(TaskNode parent, TaskNode child)
    {
        if (!ReferenceEquals(parent, child) && _seenEdges.Add((parent.Index, child.Index)))
            _edges.Add((parent.Index, child.Index));
    }

    // Each node's edges as one slice of two shared arrays, in the order they were found.
    private void LayOutEdges()
    {
        var awaits = new TaskNode[_edges.Count];
        var awaitedBy = new TaskNode[_edges.Count];
        var childStart = new int[_nodes.Count + 1];
        var parentStart = new int[_nodes.Count + 1];
        foreach (var (parent, child) in _edges)
        {
            childStart[parent + 1]++;
            parentStart[child + 1]++;
        }
        for (var n = 0; n < _nodes.Count; n++)
        {
            childStart[n + 1] += childStart[n];
            parentStart[n + 1] += parentStart[n];
        }
        var childNext = (int[])childStart.Clone();
        var parentNext = (int[])parentStart.Clone();
        foreach (var (parent, child) in _edges)
        {
            awaits[childNext[parent]++] = _nodes[child];
            awaitedBy[parentNext[child]++] = _nodes[parent];
        }
        for (var n = 0; n < _nodes.Count; n++)
        {
            _nodes[n].Awaits = new ArraySegment<TaskNode>(awaits, childStart[n], childStart[n + 1] - childStart[n]);
            _nodes[n].AwaitedBy = new ArraySegment<TaskNode>(awaitedBy, parentStart[n], parentStart[n + 1] - parentStart[n]);
        }
    }

    private static bool IsCompleted(object awaited) => awaited is Task { IsCompleted: true };

    // Task.WhenAll<T> keeps its tasks, Task.WhenAny of two keeps both; the plain Task.WhenAll keeps only a count
    // (its tasks are found the other way, through their continuations).
    private static IReadOnlyList<Task?>? CombinatorTasks(object target)
    {
        var read = s_combinators.GetOrAdd(target.GetType(), static type =>
        {
            if (!type.IsGenericType || !typeof(Task).IsAssignableFrom(type))
                return null;
            if (FieldAccessor.Reader<Task?[]?>(type, AwaitedLayout.WhenAllTasks) is { } all)
                return all;
            if (FieldAccessor.Reader<Task?>(type, AwaitedLayout.WhenAnyFirst) is { } first && FieldAccessor.Reader<Task?>(type, AwaitedLayout.WhenAnySecond) is { } second)
                return o => first(o) is { } one ? [one, second(o)] : null;
            return null;
        });
        return read?.Invoke(target);
    }
}
