using AsyncLens.Inventory;
using AsyncLens.Runtime;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>A chain of fields from an object to a value inside it (through structs held inline and object references).</summary>
internal sealed class FieldPath(params ClrInstanceField[] fields)
{
    public ClrObject ReadObject(ulong obj) => Last(obj, out var address, out var interior) ? fields[^1].ReadObject(address, interior) : default;

    public int? ReadInt(ulong obj) => Last(obj, out var address, out var interior) ? fields[^1].Read<int>(address, interior) : null;

    // Walks to the object or struct holding the last field.
    private bool Last(ulong obj, out ulong address, out bool interior)
    {
        address = obj;
        interior = false;
        for (var i = 0; i < fields.Length - 1; i++)
        {
            var field = fields[i];
            if (field.IsObjectReference)
            {
                var next = field.ReadObject(address, interior);
                if (next.IsNull)
                    return false;
                address = next.Address;
                interior = false;
            }
            else
            {
                address = field.GetAddress(address, interior);
                interior = true;
            }
        }
        return address != 0;
    }
}

internal enum ContinuationKind
{
    None,

    /// <summary>A task or an async method box: the work that waits.</summary>
    Work,

    /// <summary>An Action: its target is the box (or a ContinuationWrapper around it).</summary>
    Delegate,

    Wrapper,
    AwaitContinuation,
    ContinueWith,
    List,

    /// <summary>A thread blocked in Wait / Result (Task+SetOnInvokeMres).</summary>
    SynchronousWait,
}

/// <summary>What one type of the target's heap is to the task reader, worked out once per type.</summary>
internal sealed class TypeLayout
{
    private readonly ClrType _type;
    private FieldPath? _continuationState;
    private bool _continuationStateKnown;

    /// <param name="type">The type.</param>
    /// <param name="sample">An object of it: a box's state machine type is read from it when the field's type is shared (a class state machine reads as System.__Canon).</param>
    /// <param name="symbols">Names and lines.</param>
    public TypeLayout(ClrType type, ClrObject sample, RemoteSymbols symbols)
    {
        var definition = Definition(type.Name);
        IsTask = Derives(type, "System.Threading.Tasks.Task");
        if (type.GetFieldByName("StateMachine") is { } stateMachine && (IsTask || definition.EndsWith("+StateMachineBox", StringComparison.Ordinal))
            && StateMachineType(stateMachine, sample) is { } smType)
            Box = new BoxLayout(stateMachine, smType, symbols);
        (Kind, Label) = Box is not null ? (NodeKind.AsyncMethod, null) : Classify(type, definition, IsTask, symbols);
        IsContinuation = definition.Contains(".ContinuationTask", StringComparison.Ordinal) || definition.Contains(".ContinuationResultTask", StringComparison.Ordinal);
        if (definition == "System.Threading.Tasks.Task+WhenAllPromise")
            Remaining = type.GetFieldByName("_remainingToComplete");
        AllTasks = Kind == NodeKind.Combinator ? type.GetFieldByName("m_tasks") : null;
        (FirstTask, SecondTask) = Kind == NodeKind.Combinator ? (type.GetFieldByName("_task1"), type.GetFieldByName("_task2")) : (null, null);

        Continuation = IsTask || Box is not null ? ContinuationKind.Work
            : Derives(type, "System.MulticastDelegate") ? ContinuationKind.Delegate
            : definition == "System.Runtime.CompilerServices.AsyncMethodBuilderCore+ContinuationWrapper" ? ContinuationKind.Wrapper
            : Derives(type, "System.Threading.Tasks.AwaitTaskContinuation") ? ContinuationKind.AwaitContinuation
            : definition == "System.Threading.Tasks.ContinueWithTaskContinuation" ? ContinuationKind.ContinueWith
            : type.Name == "System.Collections.Generic.List<System.Object>" ? ContinuationKind.List
            : definition == "System.Threading.Tasks.Task+SetOnInvokeMres" ? ContinuationKind.SynchronousWait
            : ContinuationKind.None;
        DelegateTarget = Continuation == ContinuationKind.Delegate ? type.GetFieldByName("_target") : null;
        Inner = Continuation switch
        {
            ContinuationKind.Wrapper => type.GetFieldByName("_continuation"),
            ContinuationKind.AwaitContinuation => type.GetFieldByName("m_action"),
            ContinuationKind.ContinueWith => type.GetFieldByName("m_task"),
            ContinuationKind.List => type.GetFieldByName("_items"),
            _ => null,
        };
        Size = Continuation == ContinuationKind.List ? type.GetFieldByName("_size") : null;
        if (Continuation is ContinuationKind.Delegate or ContinuationKind.Wrapper or ContinuationKind.AwaitContinuation or ContinuationKind.ContinueWith or ContinuationKind.List
            && (Inner ?? DelegateTarget) is null)
            Continuation = ContinuationKind.None;
        _type = type;
        if (type.GetFieldByName("<>v__promiseOfValueOrEnd") is not null && type.GetFieldByName("<>t__builder") is { Type: { } builderType } builder
            && builderType.GetFieldByName("m_task") is { } boxField)
            IteratorBox = new FieldPath(builder, boxField);
    }

    public bool IsTask { get; }

    public BoxLayout? Box { get; }

    /// <summary>What a task of this type is, before looking at the object (a delegate task is told by its m_action).</summary>
    public NodeKind Kind { get; }

    public string? Label { get; }

    public bool IsContinuation { get; }

    public ClrInstanceField? Remaining { get; }

    public ClrInstanceField? AllTasks { get; }

    public ClrInstanceField? FirstTask { get; }

    public ClrInstanceField? SecondTask { get; }

    public ContinuationKind Continuation { get; }

    public ClrInstanceField? DelegateTarget { get; }

    public ClrInstanceField? Inner { get; }

    public ClrInstanceField? Size { get; }

    /// <summary>For a value-task source: where it keeps its continuation state (the awaiting box).</summary>
    /// <remarks>Worked out on first use: it resolves the type of fields, which costs the runtime's DAC about 2 ms
    /// per type, and few of the thousand types of a web app's heap are ever asked.</remarks>
    public FieldPath? ContinuationState
    {
        get
        {
            if (!_continuationStateKnown)
            {
                _continuationState = ContinuationStatePath(_type);
                _continuationStateKnown = true;
            }
            return _continuationState;
        }
    }

    /// <summary>For an async iterator's state machine: its builder's box.</summary>
    public FieldPath? IteratorBox { get; }

    private static ClrType? StateMachineType(ClrInstanceField field, ClrObject sample)
    {
        if (field.Type is { IsValueType: true } declared)
            return declared;
        return field.IsObjectReference && field.ReadObject(sample.Address, false) is { IsNull: false, Type: { } actual } ? actual : field.Type;
    }

    /// <summary>The type name without generic arguments: <c>System.Threading.Tasks.Task+WhenAllPromise</c>.</summary>
    public static string Definition(string? name)
    {
        if (name is null)
            return "";
        var sb = new System.Text.StringBuilder(name.Length);
        var depth = 0;
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            // '<' right after '+' or '.' (or at the start) opens a compiler-made name (<Main>d__0), not generic arguments.
            if (c == '<' && (depth > 0 || (i > 0 && name[i - 1] is not '+' and not '.')))
            {
                depth++;
                continue;
            }
            if (c == '>' && depth > 0)
            {
                depth--;
                continue;
            }
            if (depth == 0)
                sb.Append(c);
        }
        var text = sb.ToString();
        var tick = text.IndexOf('`');
        return tick >= 0 ? text[..tick] : text;
    }

    private static bool Derives(ClrType? type, string baseName)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (Definition(type.Name) == baseName)
                return true;
        }
        return false;
    }

    // The same names the engine gives (src/AsyncLens/Inventory/NodeLabels.cs).
    private static (NodeKind, string?) Classify(ClrType type, string definition, bool isTask, RemoteSymbols symbols)
    {
        if (isTask)
        {
            return definition switch
            {
                "System.Threading.Tasks.Task+WhenAllPromise" => (NodeKind.Combinator, "Task.WhenAll"),
                "System.Threading.Tasks.Task+TwoTaskWhenAnyPromise" or "System.Threading.Tasks.Task+WhenAnyPromise" => (NodeKind.Combinator, "Task.WhenAny"),
                "System.Threading.Tasks.UnwrapPromise" => (NodeKind.Combinator, "Task.Run"),
                "System.Threading.Tasks.Task+DelayPromise" or "System.Threading.Tasks.Task+DelayPromiseWithCancellation" => (NodeKind.Awaited, "Task.Delay"),
                "System.Threading.SemaphoreSlim+TaskNode" => (NodeKind.Awaited, "SemaphoreSlim.WaitAsync"),
                "System.Threading.Tasks.Task" => (NodeKind.Awaited, "TaskCompletionSource"),
                _ => (NodeKind.Awaited, symbols.TypeName(type)),
            };
        }
        if (Derives(type, "System.Net.Sockets.Socket+AwaitableSocketAsyncEventArgs"))
            return (NodeKind.Awaited, "socket I/O");
        var simple = definition[(definition.LastIndexOfAny(['.', '+']) + 1)..];
        return simple switch
        {
            "BlockedReadAsyncOperation" => (NodeKind.Awaited, "ChannelReader.ReadAsync"),
            "BlockedWriteAsyncOperation" => (NodeKind.Awaited, "ChannelWriter.WriteAsync"),
            "WaitingReadAsyncOperation" => (NodeKind.Awaited, "ChannelReader.WaitToReadAsync"),
            "WaitingWriteAsyncOperation" => (NodeKind.Awaited, "ChannelWriter.WaitToWriteAsync"),
            _ => (NodeKind.Awaited, symbols.TypeName(type)),
        };
    }

    // A source's own _continuationState, or the one in a ManualResetValueTaskSourceCore it holds.
    private static FieldPath? ContinuationStatePath(ClrType type)
    {
        if (type.GetFieldByName("_continuationState") is { } own)
            return new FieldPath(own);
        foreach (var field in type.Fields)
        {
            if (field.ElementType == ClrElementType.Struct && field.Type is { } fieldType && Definition(fieldType.Name) == "System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore"
                && fieldType.GetFieldByName("_continuationState") is { } state)
                return new FieldPath(field, state);
        }
        return null;
    }
}

/// <summary>An async method box type: its state machine's state, awaiter fields, name and await lines.</summary>
internal sealed class BoxLayout
{
    private const string YieldAwaiter = "System.Runtime.CompilerServices.YieldAwaitable+YieldAwaiter";

    private readonly ClrInstanceField _stateMachine;
    private readonly ClrType _stateMachineType;
    private readonly FieldPath? _state;
    private readonly List<(FieldPath Path, bool Unwrap)> _awaiters = [];
    private readonly RemoteSymbols _symbols;
    private readonly Dictionary<int, SourceLine?> _lines = [];

    public BoxLayout(ClrInstanceField stateMachine, ClrType stateMachineType, RemoteSymbols symbols)
    {
        _stateMachine = stateMachine;
        _stateMachineType = stateMachineType;
        _symbols = symbols;
        if (stateMachineType.GetFieldByName("<>1__state") is { } state)
            _state = new FieldPath(stateMachine, state);
        var awaiterFields = stateMachineType.Fields.Where(f => f.Name?.StartsWith("<>u__", StringComparison.Ordinal) == true).ToList();
        foreach (var field in awaiterFields)
        {
            if (field.Type is not { } type || type.Name == YieldAwaiter)
                continue;
            if (type.GetFieldByName("m_task") is { } task)
                _awaiters.Add((new FieldPath(stateMachine, field, task), false));
            else if (type.GetFieldByName("_value") is { Type: { } valueType } value && valueType.GetFieldByName("_obj") is { } obj)
                _awaiters.Add((new FieldPath(stateMachine, field, value, obj), false));
            else if (!type.IsValueType)
                _awaiters.Add((new FieldPath(stateMachine, field), true));
        }
        IsIterator = stateMachineType.GetFieldByName("<>v__promiseOfValueOrEnd") is not null;
        AwaitsOnlyYield = awaiterFields is [{ Type.Name: YieldAwaiter }];
        Name = symbols.StateMachineName(stateMachineType);
        IsAsyncEntryPoint = symbols.IsAsyncEntryPoint(stateMachineType);
    }

    public string Name { get; }

    public bool IsIterator { get; }

    public bool AwaitsOnlyYield { get; }

    public bool IsAsyncEntryPoint { get; }

    public int State(ulong box) => _state?.ReadInt(box) ?? BoxInfo.UnknownState;

    public SourceLine? AwaitLine(int state)
    {
        if (!_lines.TryGetValue(state, out var line))
            _lines[state] = line = _symbols.AwaitLine(_stateMachineType, state);
        return line;
    }

    /// <summary>The state machine object, when it is a class (Debug builds, async iterators).</summary>
    public ClrObject StateMachineObject(ulong box) => _stateMachine.IsObjectReference ? _stateMachine.ReadObject(box, false) : default;

    /// <summary>What the parked state machine awaits: the first awaiter field that holds something.</summary>
    public ClrObject Awaited(ulong box)
    {
        foreach (var (path, unwrap) in _awaiters)
        {
            var obj = path.ReadObject(box);
            if (obj.IsNull || obj.Type is null)
                continue;
            if (!unwrap)
                return obj;
            // A custom awaiter class: what it wraps, if it is a task awaiter, else itself.
            if (obj.Type.GetFieldByName("m_task") is { } task)
                return task.ReadObject(obj.Address, false);
            return obj;
        }
        return default;
    }
}
