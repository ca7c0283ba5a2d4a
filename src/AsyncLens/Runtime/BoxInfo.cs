using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Runtime;

/// <summary>
/// An async method box type (<see cref="StateMachineLayout"/>) and a compiled reader of its state machine's
/// state (<see cref="AsyncState"/>).
/// </summary>
internal sealed class BoxInfo
{
    private static readonly ConcurrentDictionary<Type, BoxInfo?> s_cache = new();
    private static readonly Type? s_taskBox = typeof(AsyncTaskMethodBuilder<>).GetNestedType(StateMachineLayout.TaskBoxNestedType, BindingFlags.NonPublic);
    private static readonly Type? s_voidTaskResult = typeof(Task).Assembly.GetType(StateMachineLayout.VoidTaskResultType);

    [ThreadStatic] private static Type? t_lastType;
    [ThreadStatic] private static BoxInfo? t_lastInfo;

    private readonly Type _boxType;
    private readonly FieldInfo _stateMachineField;
    private readonly Func<object, int> _readState;
    private AsyncMethodSymbols? _symbols;
    private Func<object, object?>[]? _awaitedReaders;
    private Func<object, object?>? _readStateMachine;

    private BoxInfo(Type boxType, FieldInfo stateMachineField, Func<object, int> readState)
    {
        _boxType = boxType;
        _stateMachineField = stateMachineField;
        StateMachineType = stateMachineField.FieldType;
        _readState = readState;
        IsUserCode = CodeOrigin.IsUserCode(StateMachineType.Assembly);
        IsIterator = StateMachineType.GetField(StateMachineLayout.IteratorPromise, FieldAccessor.Instance) is not null;
        AwaitsOnlyYield = AwaitedObjects.OnlyYield(StateMachineType);
    }

    public Type StateMachineType { get; }

    /// <summary>The async method is the user's, not the framework's (see <see cref="CodeOrigin"/>).</summary>
    public bool IsUserCode { get; }

    /// <summary>An async iterator (<c>IAsyncEnumerable</c>): states below -2 are paused at a <c>yield return</c>.</summary>
    public bool IsIterator { get; }

    /// <summary>The method's only await is <c>await Task.Yield()</c>: parked, it is about to run again.</summary>
    public bool AwaitsOnlyYield { get; }

    /// <summary>Symbols of the async method (read lazily; never on the hot path).</summary>
    public AsyncMethodSymbols Symbols => _symbols ??= AsyncMethodSymbols.For(StateMachineType);

    public int ReadState(object box)
    {
        try
        {
            return _readState(box);
        }
        catch (Exception ex) when (ex is NullReferenceException or InvalidCastException)
        {
            return AsyncState.Unknown;
        }
    }

    /// <summary>What the box's state machine is parked awaiting (a task, a value-task source, a custom awaiter), or null.</summary>
    public object? Awaited(object box)
    {
        foreach (var read in _awaitedReaders ??= AwaitedObjects.Readers(_boxType, _stateMachineField))
        {
            try
            {
                if (read(box) is { } awaited)
                    return awaited;
            }
            catch (Exception ex) when (ex is NullReferenceException or InvalidCastException)
            {
            }
        }
        return null;
    }

    /// <summary>The state machine itself (a copy, when it is a struct).</summary>
    public object? StateMachine(object box)
    {
        try
        {
            return (_readStateMachine ??= FieldAccessor.PathReader(_boxType, [_stateMachineField]))(box);
        }
        catch (Exception ex) when (ex is NullReferenceException or InvalidCastException)
        {
            return null;
        }
    }

    /// <summary>The box info of <paramref name="task"/>, or null when it is not an async method box.</summary>
    public static BoxInfo? Of(object task)
    {
        var type = task.GetType();
        if (type == t_lastType)
            return t_lastInfo;
        var info = s_cache.GetOrAdd(type, Create);
        t_lastType = type;
        t_lastInfo = info;
        return info;
    }

    /// <summary>
    /// The box info of a state machine known by its type alone (the async events name a method, not its box): that of the
    /// box a <c>Task</c>-returning method would have, which reads the same state machine; null for a type still open.
    /// </summary>
    public static BoxInfo? OfStateMachine(Type stateMachineType)
    {
        if (stateMachineType.ContainsGenericParameters || s_taskBox is null || s_voidTaskResult is null)
            return null;
        try
        {
            return s_cache.GetOrAdd(s_taskBox.MakeGenericType(s_voidTaskResult, stateMachineType), Create);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static BoxInfo? Create(Type boxType)
    {
        var smField = boxType.GetField(StateMachineLayout.BoxStateMachine, BindingFlags.Instance | BindingFlags.Public);
        if (smField is null || !typeof(IAsyncStateMachine).IsAssignableFrom(smField.FieldType))
            return null;
        var stateField = smField.FieldType.GetField(StateMachineLayout.State, FieldAccessor.Instance);
        return new BoxInfo(boxType, smField, stateField is null ? _ => AsyncState.Unknown : CompileStateReader(boxType, smField, stateField));
    }

    /// <summary>
    /// The state of a box whose type may not have been seen yet, read once through reflection: building its
    /// <see cref="BoxInfo"/> compiles a reader (milliseconds, cold), in which time the method may move on.
    /// </summary>
    public static int ReadStateOnce(object task)
    {
        try
        {
            return task.GetType().GetField(StateMachineLayout.BoxStateMachine, BindingFlags.Instance | BindingFlags.Public)?.GetValue(task) is { } sm
                && sm.GetType().GetField(StateMachineLayout.State, FieldAccessor.Instance)?.GetValue(sm) is int state
                ? state
                : AsyncState.Unknown;
        }
        catch (Exception ex) when (ex is FieldAccessException or ArgumentException or TargetException)
        {
            return AsyncState.Unknown;
        }
    }

    private static Func<object, int> CompileStateReader(Type boxType, FieldInfo smField, FieldInfo stateField)
    {
        try
        {
            var method = new DynamicMethod("read_state", typeof(int), [typeof(object)], typeof(BoxInfo).Module, skipVisibility: true);
            var il = method.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Castclass, boxType);
            // Release builds make the state machine a struct held inline; Debug builds make it a class.
            il.Emit(smField.FieldType.IsValueType ? OpCodes.Ldflda : OpCodes.Ldfld, smField);
            il.Emit(OpCodes.Ldfld, stateField);
            il.Emit(OpCodes.Ret);
            return method.CreateDelegate<Func<object, int>>();
        }
        catch (Exception ex) when (ex is InvalidProgramException or NotSupportedException or MemberAccessException)
        {
            return box => smField.GetValue(box) is { } sm && stateField.GetValue(sm) is int s ? s : AsyncState.Unknown;
        }
    }
}
