using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;
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

/// <summary>What a task's continuation object is (<see cref="ContinuationLayout"/>), as the reader follows it to the work that waits.</summary>
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

    /// <summary>A thread blocked in Wait / Result.</summary>
    SynchronousWait,

    /// <summary>A .NET 11 runtime-async chain's await of the task: its <see cref="TypeLayout.Inner"/> is the chain's task.</summary>
    RuntimeAsync,
}

/// <summary>
/// What one type of the target's heap is to the task reader, worked out once per type from its name and fields
/// (<see cref="RuntimeLayout"/>): never from an object of it, which may be in a state that says less than the type
/// (a completed box of a Debug build no longer holds its state machine).
/// </summary>
internal sealed class TypeLayout
{
    private readonly ClrType _type;
    private readonly RemoteSymbols _symbols;
    private string? _label;
    private FieldPath? _continuationState;
    private bool _continuationStateKnown;

    public TypeLayout(ClrType type, RemoteSymbols symbols)
    {
        _type = type;
        _symbols = symbols;
        var definition = RuntimeNames.Definition(type.Name);
        IsTask = Derives(type, TaskLayout.Type);
        if (type.GetFieldByName(StateMachineLayout.BoxStateMachine) is { } stateMachine && (IsTask || definition == StateMachineLayout.PooledBoxType))
            Box = new BoxLayout(stateMachine, type.Name, symbols);
        if (Box is not null)
            Kind = NodeKind.AsyncMethod;
        else
            (Kind, _label) = NodeLabels.ByDefinition(definition, IsTask, !IsTask && Derives(type, AwaitedLayout.SocketOperationType));
        IsContinueWith = NodeLabels.IsContinueWith(definition);
        ValueTaskSource = definition == AwaitedLayout.ValueTaskAsTaskType ? type.GetFieldByName(AwaitedLayout.ValueTaskAsTaskSource) : null;
        if (definition == AwaitedLayout.WhenAllType)
            Remaining = type.GetFieldByName(AwaitedLayout.WhenAllRemaining);
        AllTasks = Kind == NodeKind.Combinator ? type.GetFieldByName(AwaitedLayout.WhenAllTasks) : null;
        (FirstTask, SecondTask) = Kind == NodeKind.Combinator ? (type.GetFieldByName(AwaitedLayout.WhenAnyFirst), type.GetFieldByName(AwaitedLayout.WhenAnySecond)) : (null, null);

        Continuation = IsTask || Box is not null ? ContinuationKind.Work
            : Derives(type, "System.MulticastDelegate") ? ContinuationKind.Delegate
            : definition == ContinuationLayout.WrapperType ? ContinuationKind.Wrapper
            : Derives(type, ContinuationLayout.AwaitContinuationType) ? ContinuationKind.AwaitContinuation
            : definition == ContinuationLayout.ContinueWithType ? ContinuationKind.ContinueWith
            : definition == ContinuationLayout.ListType && type.Name == "System.Collections.Generic.List<System.Object>" ? ContinuationKind.List
            : definition == ContinuationLayout.SynchronousWaitType ? ContinuationKind.SynchronousWait
            : definition == RuntimeAsyncLayout.TaskContinuationType ? ContinuationKind.RuntimeAsync
            : ContinuationKind.None;
        IsChainTask = IsTask && definition == RuntimeAsyncLayout.TaskType;
        DelegateTarget = Continuation == ContinuationKind.Delegate ? type.GetFieldByName(TaskLayout.DelegateTarget) : null;
        Inner = Continuation switch
        {
            ContinuationKind.Wrapper => type.GetFieldByName(ContinuationLayout.WrapperContinuation),
            ContinuationKind.AwaitContinuation => type.GetFieldByName(ContinuationLayout.AwaitContinuationAction),
            ContinuationKind.ContinueWith => type.GetFieldByName(ContinuationLayout.ContinueWithTask),
            ContinuationKind.List => type.GetFieldByName(ContinuationLayout.ListItems),
            ContinuationKind.RuntimeAsync => type.GetFieldByName(RuntimeAsyncLayout.WaitingTask),
            _ => null,
        };
        Size = Continuation == ContinuationKind.List ? type.GetFieldByName(ContinuationLayout.ListSize) : null;
        if (Continuation is ContinuationKind.Delegate or ContinuationKind.Wrapper or ContinuationKind.AwaitContinuation or ContinuationKind.ContinueWith or ContinuationKind.List or ContinuationKind.RuntimeAsync
            && (Inner ?? DelegateTarget) is null)
            Continuation = ContinuationKind.None;
        if (type.GetFieldByName(StateMachineLayout.IteratorPromise) is not null && type.GetFieldByName(StateMachineLayout.Builder) is { Type: { } builderType } builder
            && builderType.GetFieldByName(StateMachineLayout.IteratorBuilderTask) is { } boxField)
            IteratorBox = new FieldPath(builder, boxField);
    }

    public bool IsTask { get; }

    /// <summary>The task of a .NET 11 runtime-async chain (<see cref="RemoteChains"/>), not a delegate task though it has one.</summary>
    public bool IsChainTask { get; }

    public BoxLayout? Box { get; }

    /// <summary>What a task of this type is, before looking at the object (a delegate task is told by its m_action).</summary>
    public NodeKind Kind { get; }

    /// <summary>What a node of this type is called (the type as C# spells it, where the runtime has no better name): worked out when a node needs it.</summary>
    public string? Label => Kind == NodeKind.AsyncMethod ? null : _label ??= _symbols.TypeName(_type);

    /// <summary>A task <c>ContinueWith</c> made.</summary>
    public bool IsContinueWith { get; }

    /// <summary>In <c>ValueTask.AsTask()</c>'s task: the source it waits for, which names it (<see cref="NodeLabels.Classify"/>).</summary>
    public ClrInstanceField? ValueTaskSource { get; }

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

    private static bool Derives(ClrType? type, string baseName)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (RuntimeNames.Definition(type.Name) == baseName)
                return true;
        }
        return false;
    }

    // A source's own _continuationState, or the one in a ManualResetValueTaskSourceCore it holds.
    private static FieldPath? ContinuationStatePath(ClrType type)
    {
        if (type.GetFieldByName(AwaitedLayout.ContinuationState) is { } own)
            return new FieldPath(own);
        foreach (var field in type.Fields)
        {
            if (field.ElementType == ClrElementType.Struct && field.Type is { } fieldType && RuntimeNames.Definition(fieldType.Name) == AwaitedLayout.SourceCoreType
                && fieldType.GetFieldByName(AwaitedLayout.ContinuationState) is { } state)
                return new FieldPath(field, state);
        }
        return null;
    }
}
