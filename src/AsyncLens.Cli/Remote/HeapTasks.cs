using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;
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
    private const int MaxNodes = 2_000_000;

    private readonly ClrHeap _heap;
    private readonly RemoteSymbols _symbols;
    private readonly Dictionary<ulong, TypeLayout> _layouts = [];
    private readonly Dictionary<ulong, int> _byAddress = [];
    private readonly List<TaskNode> _nodes = [];
    private readonly List<TypeLayout?> _nodeLayouts = []; // the layout of each node's object, by index (none for a thread)
    private readonly List<(int Parent, int Child)> _edges = [];
    private readonly Dictionary<ulong, int> _blockedOn = []; // the event a blocked thread sleeps on -> the node it waits for
    private readonly List<ulong> _blockedScratch = [];
    private readonly ClrInstanceField? _stateFlags;
    private readonly ClrInstanceField? _continuation;
    private readonly ClrInstanceField? _action;
    private readonly ClrInstanceField? _taskId;
    private readonly RemoteChains? _chains;
    private readonly Dictionary<int, int> _innermost = []; // a runtime-async chain's task -> its innermost frame, by index
    private long _nextSyntheticId = -1;

    private HeapTasks(ClrRuntime runtime, RemoteSymbols symbols)
    {
        _heap = runtime.Heap;
        _symbols = symbols;
        var task = _heap.GetTypeByName(TaskLayout.Type) ?? throw new NoTaskTypeException();
        _stateFlags = task.GetFieldByName(TaskLayout.StateFlags);
        _continuation = task.GetFieldByName(TaskLayout.ContinuationObject);
        _action = task.GetFieldByName(TaskLayout.Action);
        _taskId = task.GetFieldByName(TaskLayout.TaskId);
        if (_stateFlags is null || _continuation is null)
            throw new CliException($"the target's Task has no {TaskLayout.StateFlags} / {TaskLayout.ContinuationObject} (a .NET version AsyncLens does not read)");
        _chains = RemoteChains.For(runtime, symbols, task);
    }

    /// <summary>How many objects the heap walk looked at (for --verbose timings).</summary>
    public long ObjectsWalked { get; private set; }

    /// <summary>How many of them had no type the runtime could name (their method table could not be read).</summary>
    public long ObjectsUntyped { get; private set; }

    /// <summary>Walks the heap once for seeds, then widens through awaiters and awaited objects.</summary>
    public static (TaskGraph Graph, HeapTasks Reader) Read(ClrRuntime runtime, RemoteSymbols symbols)
    {
        var reader = new HeapTasks(runtime, symbols);
        foreach (var obj in reader._heap.EnumerateObjects())
        {
            reader.ObjectsWalked++;
            if (obj.Type is null)
            {
                reader.ObjectsUntyped++;
                continue;
            }
            var layout = reader.Layout(obj);
            // Async methods, combinators, and delegate tasks (a Task whose m_action is set); not plain promises.
            if (layout.IsTask && !reader.IsCompleted(obj.Address)
                && (layout.Kind != NodeKind.Awaited || reader._action?.ReadObject(obj.Address, false) is { IsNull: false }))
                reader.Node(obj);
        }
        for (var i = 0; i < reader._nodes.Count && reader._nodes.Count < MaxNodes; i++)
            reader.Expand(i);
        if (reader._blockedOn.Count > 0)
            BlockedThreads.Link(runtime, symbols, reader, reader._blockedOn);
        return (TaskGraph.FromParts(reader._nodes, reader._edges), reader);
    }

    /// <summary>The node read from the object at <paramref name="address"/>, if it is pending work.</summary>
    public TaskNode? NodeAt(ulong address) => _byAddress.TryGetValue(address, out var index) ? _nodes[index] : null;

    /// <summary>The node of each thread blocked on a task, by managed thread id.</summary>
    public Dictionary<int, TaskNode> BlockedThreadNodes { get; } = [];

    /// <summary>Adds a thread blocked waiting for the node at <paramref name="waited"/>, and the running work (if any) whose step it blocks.</summary>
    public void AddBlockedThread(int managedId, NodeText text, int waited, TaskNode? running)
    {
        var index = _nodes.Count;
        _nodes.Add(new TaskNode(0UL, _nextSyntheticId--, NodeKind.Thread, index) { Description = text, KindName = "thread", StateName = "blocked" });
        _nodeLayouts.Add(null);
        BlockedThreadNodes[managedId] = _nodes[index];
        _edges.Add((index, waited));
        if (running is not null)
            _edges.Add((running.Index, index));
    }

    /// <summary>The state machine fields of an async method's node (null for other nodes).</summary>
    public StateMachineFields? FieldsOf(TaskNode node) => _nodeLayouts[node.Index]?.Box?.Fields((ulong)node.Target);

    private bool IsCompleted(ulong task) => TaskLayout.Flags.IsCompleted(_stateFlags!.Read<int>(task, false));

    private TypeLayout Layout(ClrObject obj)
    {
        var type = obj.Type!;
        if (!_layouts.TryGetValue(type.MethodTable, out var layout))
            _layouts[type.MethodTable] = layout = new TypeLayout(type, _symbols);
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
        if (layout.IsChainTask && _chains is not null)
            return ChainNodes(obj, layout, id);
        _nodes.Add(layout.Box is { } boxLayout ? MethodNode(obj, layout, boxLayout.Fields(obj.Address), id, index) : OtherNode(obj, layout, id, index));
        _nodeLayouts.Add(layout);
        _byAddress[obj.Address] = index;
        return index;
    }

    /// <summary>
    /// A .NET 11 runtime-async chain as one node per suspended method, outermost to innermost, the innermost linked to
    /// what it awaits (as the engine's graph makes them): the chain's task stands for the outermost method.
    /// </summary>
    private int ChainNodes(ClrObject task, TypeLayout layout, long id)
    {
        var frames = _chains!.Read(task.Address, out var awaited);
        var outer = _nodes.Count;
        if (frames.Count == 0)
        {
            Add(new TaskNode(task.Address, id, NodeKind.AsyncMethod, outer) { Description = NodeTexts.RunningChain, KindName = "async-method", StateName = "running" }, layout);
            return outer;
        }
        var resuming = !awaited.IsNull && awaited.Type is not null && IsCompletedTask(awaited);
        for (var i = 0; i < frames.Count; i++)
        {
            var index = _nodes.Count;
            var text = resuming && i == frames.Count - 1 ? frames[i].Text with { Note = NodeTexts.Resuming } : frames[i].Text;
            // Only the task has awaiters of its own: the inner frames are read with the chain (no layout: never expanded).
            Add(new TaskNode(i == 0 ? task.Address : frames[i].Continuation, i == 0 ? id : _nextSyntheticId--, NodeKind.AsyncMethod, index)
            {
                Description = text,
                KindName = "async-method",
                StateName = "parked",
            }, i == 0 ? layout : null);
            if (i > 0)
                _edges.Add((index - 1, index));
        }
        var inner = _nodes.Count - 1;
        _innermost[outer] = inner;
        if (!awaited.IsNull && awaited.Type is not null && !resuming)
            _edges.Add((inner, Node(awaited)));
        return outer;
    }

    private void Add(TaskNode node, TypeLayout? layout)
    {
        _byAddress[(ulong)node.Target] = node.Index;
        _nodes.Add(node);
        _nodeLayouts.Add(layout);
    }

    // The node that does the awaiting for a node: a runtime-async chain awaits in its innermost method.
    private int Awaiting(int index) => _innermost.TryGetValue(index, out var inner) ? inner : index;

    // A box whose class state machine is gone (fields null) completed while the read ran into it: named, no state.
    private TaskNode MethodNode(ClrObject obj, TypeLayout layout, StateMachineFields? fields, long id, int index)
    {
        var state = fields?.State(obj.Address) ?? AsyncState.Unknown;
        var iterator = fields?.IsIterator == true;
        var note = state switch
        {
            AsyncState.Running => "running",
            _ when AsyncState.IsParked(state) && fields!.AwaitsOnlyYield => "awaiting Task.Yield",
            _ when AsyncState.IsPausedIterator(state) && iterator => "paused at yield return",
            _ => null,
        };
        return new TaskNode(obj.Address, id, NodeKind.AsyncMethod, index)
        {
            State = state,
            Description = new NodeText(fields?.Name ?? layout.Box!.Name, AsyncState.IsParked(state) ? fields!.AwaitLine(state) : null, note),
            KindName = iterator ? "async-iterator" : layout.IsTask ? "async-method" : "pooled-async-method",
            AwaitsYield = fields?.AwaitsOnlyYield == true,
        };
    }

    private TaskNode OtherNode(ClrObject obj, TypeLayout layout, long id, int index)
    {
        if (layout.IsTask && layout.Kind == NodeKind.Awaited && _action?.ReadObject(obj.Address, false) is { IsNull: false } action)
        {
            // A delegate task: Task.Run, Task.Factory.StartNew, ContinueWith.
            var flags = _stateFlags!.Read<int>(obj.Address, false);
            var state = TaskLayout.Flags.IsRunning(flags) ? "running" : TaskLayout.Flags.IsWaitingForActivation(flags) ? "waiting"
                : TaskLayout.Flags.IsCreated(flags) ? NodeTexts.NotStarted : "queued";
            var target = Delegate(action);
            var label = NodeLabels.DelegateLabel(layout.IsContinueWith, state == NodeTexts.NotStarted, target is null ? "?" : _symbols.MethodName(target));
            return new TaskNode(obj.Address, id, NodeKind.DelegateTask, index)
            {
                Label = label,
                Description = new NodeText(label, target is null ? null : RemoteSymbols.LineAt(target, 0), NodeTexts.DelegateNote(state)),
                StateName = state,
            };
        }
        var tasks = layout.Kind == NodeKind.Combinator ? CombinatorTasks(obj.Address, layout) : null;
        var source = layout.ValueTaskSource?.ReadObject(obj.Address, false) is { IsNull: false, IsValid: true } s ? s : default;
        return new TaskNode(obj.Address, id, layout.Kind, index)
        {
            Label = source.IsNull ? layout.Label : Layout(source).Label,
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
        if (_nodeLayouts[index] is not { } layout)
            return;
        var blockedOn = _blockedScratch;
        blockedOn.Clear();
        var awaiters = new List<ClrObject>(2);
        if (layout.IsTask)
        {
            Resolve(_continuation!.ReadObject(address, false), awaiters, blockedOn, 0);
            // An async iterator's consumer waits on the iterator's promise, not on its box.
            if (awaiters.Count == 0 && layout.Box?.Fields(address) is { IsIterator: true } iterator && iterator.StateMachineObject(address) is { IsNull: false } sm)
                Resolve(ContinuationState(sm), awaiters, blockedOn, 0);
        }
        else
        {
            Resolve(layout.ContinuationState?.ReadObject(address) ?? default, awaiters, blockedOn, 0);
        }
        foreach (var awaiter in awaiters)
            _edges.Add((Awaiting(Node(awaiter)), index));
        if (blockedOn.Count > 0 && layout.Box?.Fields(address) is not { IsAsyncEntryPoint: true })
        {
            node.BlockedThreadWaits = true;
            foreach (var wait in blockedOn)
                _blockedOn[wait] = index;
        }

        if (AsyncState.IsParked(node.State) && layout.Box?.Fields(address)?.Awaited(address) is { IsNull: false, Type: not null } awaited)
        {
            if (!IsCompletedTask(awaited))
                _edges.Add((index, Node(awaited)));
            else if (node.Description is { Note: null } text)
            {
                // Parked on a task that has completed: its continuation is queued (or about to run), as in process.
                node.Resuming = true;
                node.Description = text with { Note = NodeTexts.Resuming };
            }
        }
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
    private void Resolve(ClrObject continuation, List<ClrObject> into, List<ulong> blockedOn, int depth)
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
                        Resolve(targetLayout.Inner!.ReadObject(target.Address, false), into, blockedOn, depth + 1);
                }
                break;
            case ContinuationKind.Wrapper or ContinuationKind.AwaitContinuation or ContinuationKind.ContinueWith:
                Resolve(layout.Inner!.ReadObject(continuation.Address, false), into, blockedOn, depth + 1);
                break;
            case ContinuationKind.List:
                var items = layout.Inner!.ReadObject(continuation.Address, false);
                var size = layout.Size!.Read<int>(continuation.Address, false);
                if (items.IsArray)
                {
                    var array = items.AsArray();
                    for (var i = 0; i < Math.Min(size, array.Length); i++)
                        Resolve(array.GetObjectValue(i), into, blockedOn, depth + 1);
                }
                break;
            case ContinuationKind.SynchronousWait:
                blockedOn.Add(continuation.Address);
                break;
            case ContinuationKind.RuntimeAsync:
                if (layout.Inner!.ReadObject(continuation.Address, false) is { IsNull: false, Type: not null } chain)
                    into.Add(chain);
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
