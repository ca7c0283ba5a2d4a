using System.Reflection;
using AsyncLens.Runtime;

namespace AsyncLens.Inventory;

/// <summary>
/// All pending async work at one moment, as a graph. Built from the tasks the runtime's registry holds,
/// then widened: backwards through who awaits each node (continuations, value-task sources), forwards
/// through what each awaits (the parked state machine's awaiter field, a combinator's tasks). Every node
/// is visited once, so cycles or broken chains cannot hang it.
/// </summary>
internal sealed class TaskGraph
{
    private const int MaxNodes = 2_000_000;

    private static readonly FieldInfo? s_whenAllRemaining = typeof(Task).Assembly.GetType("System.Threading.Tasks.Task+WhenAllPromise")?.GetField("_remainingToComplete", FieldAccessor.Instance);

    private readonly Dictionary<object, TaskNode> _nodes = new(ReferenceEqualityComparer.Instance);
    private readonly Queue<TaskNode> _pending = new();
    private readonly List<Awaiter> _awaiters = new(2);
    private long _nextSyntheticId = -1;

    private TaskGraph()
    {
    }

    public IReadOnlyCollection<TaskNode> Nodes => _nodes.Values;

    /// <summary>
    /// Where the trees start: async methods, delegate tasks and combinators nothing awaits, then one node of
    /// each cycle (work awaiting its own awaiters, which nothing outside awaits).
    /// </summary>
    public IReadOnlyList<TaskNode> Roots => _roots ??= FindRoots();

    private List<TaskNode>? _roots;

    private List<TaskNode> FindRoots()
    {
        var roots = _nodes.Values.Where(n => n.IsCode && n.AwaitedBy.Count == 0).ToList();
        var reached = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<TaskNode>(roots);
        while (true)
        {
            while (stack.Count > 0)
            {
                var node = stack.Pop();
                if (!reached.Add(node))
                    continue;
                foreach (var child in node.Awaits)
                    stack.Push(child);
            }
            var orphan = _nodes.Values.Where(n => n.IsCode && !reached.Contains(n)).OrderBy(n => n.Id).FirstOrDefault();
            if (orphan is null)
                return roots;
            orphan.InCycle = true;
            roots.Add(orphan);
            stack.Push(orphan);
        }
    }

    public static TaskGraph Build(IEnumerable<Task> seeds)
    {
        var graph = new TaskGraph();
        foreach (var task in seeds)
        {
            if (!task.IsCompleted)
                graph.Node(task);
        }
        while (graph._pending.Count > 0 && graph._nodes.Count < MaxNodes)
            graph.Expand(graph._pending.Dequeue());
        return graph;
    }

    private TaskNode Node(object target)
    {
        if (NodeLabels.IsIteratorStateMachine(target))
            target = NodeLabels.IteratorBox(target);
        if (_nodes.TryGetValue(target, out var node))
            return node;
        var (kind, label) = NodeLabels.Classify(target);
        var box = kind == NodeKind.AsyncMethod ? BoxInfo.Of(target) : null;
        var stateMachine = box is null ? null : AwaitedObjects.StateMachineOf(target);
        node = new TaskNode(target, target is Task t ? t.Id : _nextSyntheticId--, kind)
        {
            Box = box,
            State = box?.ReadState(target) ?? BoxInfo.UnknownState,
            DelegateMethod = kind == NodeKind.DelegateTask && target is Task task ? TaskInternals.Action(task)?.Method : null,
            Label = label,
            AwaitsYield = stateMachine is not null && AwaitedObjects.AwaitsYield(stateMachine),
            PendingCount = target.GetType() == s_whenAllRemaining?.DeclaringType ? s_whenAllRemaining.GetValue(target) as int? : null,
            TotalCount = CombinatorTasks(target) is { } all ? all.Count : null,
        };
        _nodes.Add(target, node);
        _pending.Enqueue(node);
        return node;
    }

    private void Expand(TaskNode node)
    {
        _awaiters.Clear();
        Awaiters.Of(node.Target, _awaiters);
        foreach (var awaiter in _awaiters)
        {
            if (awaiter.Node is { } parent)
                Link(Node(parent), node);
            else if (awaiter.Kind == AwaiterKind.SynchronousWait)
                node.BlockedThreadWaits = true;
        }
        if (node.Kind == NodeKind.AsyncMethod && node.State >= 0 && AwaitedObjects.StateMachineOf(node.Target) is { } stateMachine
            && AwaitedObjects.Of(stateMachine) is { } awaited && !IsCompleted(awaited))
            Link(node, Node(awaited));
        if (CombinatorTasks(node.Target) is { } tasks)
        {
            foreach (var task in tasks)
            {
                if (task is { IsCompleted: false })
                    Link(node, Node(task));
            }
        }
    }

    private static void Link(TaskNode parent, TaskNode child)
    {
        if (ReferenceEquals(parent, child) || parent.Awaits.Contains(child))
            return;
        parent.Awaits.Add(child);
        child.AwaitedBy.Add(parent);
    }

    private static bool IsCompleted(object awaited) => awaited is Task { IsCompleted: true };

    // Task.WhenAll<T> keeps its tasks, Task.WhenAny of two keeps both; the plain Task.WhenAll keeps only a count
    // (its tasks are found the other way, through their continuations).
    private static IReadOnlyList<Task?>? CombinatorTasks(object target)
    {
        var type = target.GetType();
        if (!type.IsGenericType || target is not Task)
            return null;
        if (type.GetField("m_tasks", FieldAccessor.Instance)?.GetValue(target) is Task?[] tasks)
            return tasks;
        if (type.GetField("_task1", FieldAccessor.Instance)?.GetValue(target) is Task first)
            return [first, type.GetField("_task2", FieldAccessor.Instance)?.GetValue(target) as Task];
        return null;
    }
}
