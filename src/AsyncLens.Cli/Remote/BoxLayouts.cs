using AsyncLens.Runtime.Layout;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// An async method box type (<see cref="StateMachineLayout"/>): where it holds its state machine, and the state
/// machine's fields. A struct state machine (Release builds) is laid out in the box's type. A class state machine
/// (Debug builds) is an object of its own, and the box's field is typed <c>System.__Canon</c>: its fields are learned
/// from the first box of the type that still holds one (a completed box holds null), and every box of the type holds
/// the same class.
/// </summary>
internal sealed class BoxLayout
{
    private readonly ClrInstanceField _stateMachine;
    private readonly string? _exactName;
    private readonly RemoteSymbols _symbols;
    private StateMachineFields? _fields;

    /// <param name="stateMachine">The box's <c>StateMachine</c> field.</param>
    /// <param name="boxTypeName">The box type's name: its last generic argument is the state machine's exact type, even where the code is shared.</param>
    /// <param name="symbols">Names and lines.</param>
    public BoxLayout(ClrInstanceField stateMachine, string? boxTypeName, RemoteSymbols symbols)
    {
        _stateMachine = stateMachine;
        _symbols = symbols;
        _exactName = RemoteTypeNames.LastArgument(boxTypeName);
        if (stateMachine.Type is { IsValueType: true } declared)
            _fields = new StateMachineFields(stateMachine, declared, _exactName, symbols);
    }

    /// <summary>The state machine's fields, or null for a box whose class state machine is gone (it completed) before any other showed it.</summary>
    public StateMachineFields? Fields(ulong box)
    {
        if (_fields is not null || !_stateMachine.IsObjectReference)
            return _fields;
        var machine = _stateMachine.ReadObject(box, false);
        return machine.IsNull || machine.Type is null ? null : _fields = new StateMachineFields(_stateMachine, machine.Type, _exactName, _symbols);
    }

    /// <summary>The method's name without its state machine's fields (from the box type's name only).</summary>
    public string Name => _symbols.StateMachineName(null, _exactName);
}

/// <summary>A state machine type as read through its box: its state, awaiter fields, name and await lines.</summary>
internal sealed class StateMachineFields
{
    private readonly ClrInstanceField _stateMachine;
    private readonly ClrType _type;
    private readonly FieldPath? _state;
    private readonly List<(FieldPath Path, bool Unwrap)> _awaiters = [];
    private readonly RemoteSymbols _symbols;
    private readonly Dictionary<int, SourceLine?> _lines = [];

    /// <param name="stateMachine">The box's field that holds it.</param>
    /// <param name="type">Its type: the declared struct (shared code's canonical form: the same layout), or the class of the object held.</param>
    /// <param name="exactName">Its exact type name, as the box's type spells it.</param>
    /// <param name="symbols">Names and lines.</param>
    public StateMachineFields(ClrInstanceField stateMachine, ClrType type, string? exactName, RemoteSymbols symbols)
    {
        _stateMachine = stateMachine;
        _type = type;
        _symbols = symbols;
        if (type.GetFieldByName(StateMachineLayout.State) is { } state)
            _state = new FieldPath(stateMachine, state);
        var awaiterFields = type.Fields.Where(f => f.Name?.StartsWith(StateMachineLayout.AwaiterPrefix, StringComparison.Ordinal) == true).ToList();
        foreach (var field in awaiterFields)
        {
            if (field.Type is not { } awaiter || RuntimeNames.Definition(awaiter.Name) == AwaiterLayout.YieldAwaiterType)
                continue;
            if (awaiter.GetFieldByName(AwaiterLayout.Task) is { } task)
                _awaiters.Add((new FieldPath(stateMachine, field, task), false));
            else if (awaiter.GetFieldByName(AwaiterLayout.ValueTask) is { Type: { } valueType } value && valueType.GetFieldByName(AwaiterLayout.ValueTaskObject) is { } obj)
                _awaiters.Add((new FieldPath(stateMachine, field, value, obj), false));
            else if (!awaiter.IsValueType)
                _awaiters.Add((new FieldPath(stateMachine, field), true));
        }
        IsIterator = type.GetFieldByName(StateMachineLayout.IteratorPromise) is not null;
        AwaitsOnlyYield = awaiterFields is [{ Type: { } only }] && RuntimeNames.Definition(only.Name) == AwaiterLayout.YieldAwaiterType;
        Name = symbols.StateMachineName(type, exactName);
        IsAsyncEntryPoint = symbols.IsAsyncEntryPoint(type);
    }

    public string Name { get; }

    public bool IsIterator { get; }

    public bool AwaitsOnlyYield { get; }

    public bool IsAsyncEntryPoint { get; }

    /// <summary>The state machine type's token and module: what a thread's <c>MoveNext</c> frame is matched with.</summary>
    public (int Token, ulong Module) Definition => (_type.MetadataToken, _type.Module?.Address ?? 0);

    public int State(ulong box) => _state?.ReadInt(box) ?? AsyncState.Unknown;

    public SourceLine? AwaitLine(int state)
    {
        if (!_lines.TryGetValue(state, out var line))
            _lines[state] = line = _symbols.AwaitLine(_type, state);
        return line;
    }

    /// <summary>The state machine type (the declared struct, or the class held).</summary>
    public ClrType Type => _type;

    /// <summary>An object field of the state machine (a hoisted local, <c>&lt;&gt;4__this</c>), by name; null when it has none of that name.</summary>
    public ClrObject Field(ulong box, string name) =>
        _type.GetFieldByName(name) is { IsObjectReference: true } field ? new FieldPath(_stateMachine, field).ReadObject(box) : default;

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
            if (obj.Type.GetFieldByName(AwaiterLayout.Task) is { } task)
                return task.ReadObject(obj.Address, false);
            return obj;
        }
        return default;
    }
}
