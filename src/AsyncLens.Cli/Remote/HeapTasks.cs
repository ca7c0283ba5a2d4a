using AsyncLens.Inventory;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Pending async work read from another process's heap: the out-of-process twin of the engine's
/// <see cref="TaskGraph.Build"/>, over ClrMD objects instead of live ones. Seeds are every incomplete async
/// method box, delegate task and combinator on the heap; edges come from the same places the engine reads
/// (and SOS <c>dumpasync</c> before it): a task's <c>m_continuationObject</c> (who awaits it) and a parked
/// state machine's awaiter field (what it awaits), through <c>ValueTask._obj</c>, pooled boxes, async
/// iterators and value-task sources. The graph it builds is written by the engine's own dumps.
/// </summary>
internal sealed class HeapTasks
{
    // Task.m_stateFlags: TASK_STATE_STARTED, _DELEGATE_INVOKED, and the three completed states.
    private const int Started = 0x10000;
    private const int DelegateInvoked = 0x20000;
    private const int Completed = 0x1000000 | 0x200000 | 0x400000;
    private const int MaxNodes = 2_000_000;

    private readonly ClrHeap _heap;
    private readonly RemoteSymbols _symbols;
    private readonly Dictionary<ulong, TypeLayout> _layouts = [];
    private readonly Dictionary<ulong, int> _byAddress = [];
    private readonly List<TaskNode> _nodes = [];
    private readonly List<TypeLayout> _nodeLayouts = []; // the layout of each node's object, by index
    private readonly List<(int Parent, int Child)> _edges = [];
    private readonly ClrInstanceField? _stateFlags;
    private readonly ClrInstanceField? _continuation;
    private readonly ClrInstanceField? _action;
    private readonly ClrInstanceField? _taskId;
    private long _nextSyntheticId = -1;

    private HeapTasks(ClrRuntime runtime, RemoteSymbols symbols)
    {
        _heap = runtime.Heap;
        _symbols = symbols;
        var task = _heap.GetTypeByName("System.Threading.Tasks.Task") ?? throw new NoTaskTypeException();
        _stateFlags = task.GetFieldByName("m_stateFlags");
        _continuation = task.GetFieldByName("m_continuationObject");
        _action = task.GetFieldByName("m_action");
        _taskId = task.GetFieldByName("m_taskId");
        if (_stateFlags is null || _continuation is null)
            throw new CliException("the target's Task has no m_stateFlags / m_continuationObject (a .NET version AsyncLens does not read)");
    }

    /// <summary>How many objects the heap walk looked at (for --verbose timings).</summary>
    public long ObjectsWalked { get; private set; }

    /// <summary>Walks the heap once for seeds, then widens through awaiters and awaited objects.</summary>
    public static (TaskGraph Graph, HeapTasks Reader) Read(ClrRuntime runtime, RemoteSymbols symbols)
    {
        var reader = new HeapTasks(runtime, symbols);
        foreach (var obj in reader._heap.EnumerateObjects())
        {
            reader.ObjectsWalked++;
            if (obj.Type is null)
                continue;
            var layout = reader.Layout(obj);
            // Async methods, combinators, and delegate tasks (a Task whose m_action is set); not plain promises.
            if (layout.IsTask && !reader.IsCompleted(obj.Address)
                && (layout.Kind != NodeKind.Awaited || reader._action?.ReadObject(obj.Address, false) is { IsNull: false }))
                reader.Node(obj);
        }
        for (var i = 0; i < reader._nodes.Count && reader._nodes.Count < MaxNodes; i++)
            reader.Expand(i);
        return (TaskGraph.FromParts(reader._nodes, reader._edges), reader);
    }

    /// <summary>The node read from the object at <paramref name="address"/>, if it is pending work.</summary>
    public TaskNode? NodeAt(ulong address) => _byAddress.TryGetValue(address, out var index) ? _nodes[index] : null;

    private bool IsCompleted(ulong task) => (_stateFlags!.Read<int>(task, false) & Completed) != 0;

    private TypeLayout Layout(ClrObject obj)
    {
        var type = obj.Type!;
        if (!_layouts.TryGetValue(type.MethodTable, out var layout))
            _layouts[type.MethodTable] = layout = new TypeLayout(type, obj, _symbols);
        return layout;
    }

    private int Node(ClrObject obj)
    {
        var layout = Layout(obj);
        // An async iterator's state machine stands for the box that runs it.
        if (layout.IteratorBox is { } boxPath && boxPath.ReadObject(obj.Address) is { IsNull: false, Type: not null } box && Layout(box).Box is not null)
        {
            obj = box;
            layout = Layout(box);
        }
        if (_byAddress.TryGetValue(obj.Address, out var index))
            return index;
        index = _nodes.Count;
        var id = layout.IsTask && _taskId?.Read<int>(obj.Address, false) is int taskId and > 0 ? taskId : _nextSyntheticId--;
        _nodes.Add(layout.Box is { } boxLayout ? MethodNode(obj, layout, boxLayout, id, index) : OtherNode(obj, layout, id, index));
        _nodeLayouts.Add(layout);
        _byAddress[obj.Address] = index;
        return index;
    }

    private TaskNode MethodNode(ClrObject obj, TypeLayout layout, BoxLayout box, long id, int index)
    {
        var state = box.State(obj.Address);
        var note = state switch
        {
            -1 => "running",
            >= 0 when box.AwaitsOnlyYield => "awaiting Task.Yield",
            < -2 when box.IsIterator => "paused at yield return",
            _ => null,
        };
        return new TaskNode(obj.Address, id, NodeKind.AsyncMethod, index)
        {
            State = state,
            Description = new NodeText(box.Name, state >= 0 ? box.AwaitLine(state) : null, note),
            KindName = box.IsIterator ? "async-iterator" : layout.IsTask ? "async-method" : "pooled-async-method",
            AwaitsYield = box.AwaitsOnlyYield,
        };
    }

    private TaskNode OtherNode(ClrObject obj, TypeLayout layout, long id, int index)
    {
        if (layout.IsTask && layout.Kind == NodeKind.Awaited && _action?.ReadObject(obj.Address, false) is { IsNull: false } action)
        {
            // A delegate task: Task.Run, Task.Factory.StartNew, ContinueWith.
            var flags = _stateFlags!.Read<int>(obj.Address, false);
            var running = (flags & (Started | DelegateInvoked)) == (Started | DelegateInvoked);
            var target = Delegate(action);
            var label = $"{(layout.IsContinuation ? "Task.ContinueWith" : "Task.Run")}({(target is null ? "?" : _symbols.MethodName(target))})";
            return new TaskNode(obj.Address, id, NodeKind.DelegateTask, index)
            {
                Label = label,
                Description = new NodeText(label, target is null ? null : RemoteSymbols.LineAt(target, 0), running ? "running" : "queued"),
                StateName = running ? "running" : "queued",
            };
        }
        var tasks = layout.Kind == NodeKind.Combinator ? CombinatorTasks(obj.Address, layout) : null;
        return new TaskNode(obj.Address, id, layout.Kind, index)
        {
            Label = layout.Label,
            TotalCount = tasks?.Count,
            PendingCount = layout.Remaining?.Read<int>(obj.Address, false),
        };
    }

    private ClrMethod? Delegate(ClrObject action)
    {
        try
        {
            return action.IsDelegate ? action.AsDelegate().GetDelegateTarget()?.Method : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private void Expand(int index)
    {
        var node = _nodes[index];
        var address = (ulong)node.Target;
        var layout = _nodeLayouts[index];
        var blocked = false;
        var awaiters = new List<ClrObject>(2);
        if (layout.IsTask)
        {
            Resolve(_continuation!.ReadObject(address, false), awaiters, ref blocked, 0);
            // An async iterator's consumer waits on the iterator's promise, not on its box.
            if (awaiters.Count == 0 && layout.Box is { IsIterator: true } iterator && iterator.StateMachineObject(address) is { IsNull: false } sm)
                Resolve(ContinuationState(sm), awaiters, ref blocked, 0);
        }
        else
        {
            Resolve(layout.ContinuationState?.ReadObject(address) ?? default, awaiters, ref blocked, 0);
        }
        foreach (var awaiter in awaiters)
            _edges.Add((Node(awaiter), index));
        if (blocked && !(layout.Box is { } entry && entry.IsAsyncEntryPoint))
            node.BlockedThreadWaits = true;

        if (layout.Box is { } box && node.State >= 0 && box.Awaited(address) is { IsNull: false, Type: not null } awaited && !IsCompletedTask(awaited))
            _edges.Add((index, Node(awaited)));
        if (node.Kind == NodeKind.Combinator && CombinatorTasks(address, layout) is { } tasks)
        {
            foreach (var task in tasks)
            {
                if (!task.IsNull && task.Type is not null && !IsCompletedTask(task))
                    _edges.Add((index, Node(task)));
            }
        }
    }

    private bool IsCompletedTask(ClrObject obj) => Layout(obj).IsTask && IsCompleted(obj.Address);

    // Who waits, the way the engine's Awaiters resolves a continuation (see src/AsyncLens/Runtime/Awaiters.cs).
    private void Resolve(ClrObject continuation, List<ClrObject> into, ref bool blocked, int depth)
    {
        if (continuation.IsNull || continuation.Type is null || depth > 8)
            return;
        var layout = Layout(continuation);
        switch (layout.Continuation)
        {
            case ContinuationKind.Work:
                into.Add(continuation);
                break;
            case ContinuationKind.Delegate:
                if (layout.DelegateTarget!.ReadObject(continuation.Address, false) is { IsNull: false, Type: not null } target)
                {
                    var targetLayout = Layout(target);
                    if (targetLayout.Continuation == ContinuationKind.Work)
                        into.Add(target);
                    else if (targetLayout.Continuation == ContinuationKind.Wrapper)
                        Resolve(targetLayout.Inner!.ReadObject(target.Address, false), into, ref blocked, depth + 1);
                }
                break;
            case ContinuationKind.Wrapper or ContinuationKind.AwaitContinuation or ContinuationKind.ContinueWith:
                Resolve(layout.Inner!.ReadObject(continuation.Address, false), into, ref blocked, depth + 1);
                break;
            case ContinuationKind.List:
                var items = layout.Inner!.ReadObject(continuation.Address, false);
                var size = layout.Size!.Read<int>(continuation.Address, false);
                if (items.IsArray)
                {
                    var array = items.AsArray();
                    for (var i = 0; i < Math.Min(size, array.Length); i++)
                        Resolve(array.GetObjectValue(i), into, ref blocked, depth + 1);
                }
                break;
            case ContinuationKind.SynchronousWait:
                blocked = true;
                break;
        }
    }

    // A value-task source's continuation state: the awaiting box, when a box awaits it (see ValueTaskSources).
    private ClrObject ContinuationState(ClrObject source) =>
        source.Type is not null && Layout(source).ContinuationState is { } path ? path.ReadObject(source.Address) : default;

    private static List<ClrObject>? CombinatorTasks(ulong obj, TypeLayout layout)
    {
        if (layout.AllTasks?.ReadObject(obj, false) is { IsNull: false, IsArray: true } array)
        {
            var a = array.AsArray();
            var list = new List<ClrObject>(a.Length);
            for (var i = 0; i < a.Length; i++)
                list.Add(a.GetObjectValue(i));
            return list;
        }
        if (layout.FirstTask is { } first && layout.SecondTask is { } second)
            return [first.ReadObject(obj, false), second.ReadObject(obj, false)];
        return null;
    }
}

/// <summary>The runtime read has no Task type: not a .NET version AsyncLens reads, or (a dump) no managed memory in it.</summary>
internal sealed class NoTaskTypeException() : Exception("the target's runtime has no System.Threading.Tasks.Task type");
