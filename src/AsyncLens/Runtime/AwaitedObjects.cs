using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// What a parked state machine awaits, read from its awaiter field (<see cref="AwaiterLayout"/>): a task, or an
/// <see cref="System.Threading.Tasks.Sources.IValueTaskSource"/>. The readers are compiled once per box type and
/// read in place: a snapshot of 100,000 boxes copies nothing.
/// </summary>
internal static class AwaitedObjects
{
    private static readonly ConcurrentDictionary<Type, Func<object, object?>> s_unwrappers = new();

    /// <summary>One reader per awaiter field of the state machine in <paramref name="stateMachine"/>: box to awaited object, or null.</summary>
    public static Func<object, object?>[] Readers(Type boxType, FieldInfo stateMachine)
    {
        var readers = new List<Func<object, object?>>();
        foreach (var field in AwaiterFields(stateMachine.FieldType))
        {
            var type = field.FieldType;
            if (type == typeof(YieldAwaitable.YieldAwaiter))
                continue; // a default YieldAwaiter is indistinguishable from a live one: see AwaitsYield
            if (type.GetField(AwaiterLayout.Task, FieldAccessor.Instance) is { } task)
            {
                readers.Add(FieldAccessor.PathReader(boxType, [stateMachine, field, task]));
            }
            else if (type.GetField(AwaiterLayout.ValueTask, FieldAccessor.Instance) is { } value && value.FieldType.GetField(AwaiterLayout.ValueTaskObject, FieldAccessor.Instance) is { } obj)
            {
                readers.Add(FieldAccessor.PathReader(boxType, [stateMachine, field, value, obj]));
            }
            else if (!type.IsValueType)
            {
                // A custom awaiter class holds state of its own: it is what is awaited. A field typed object or an
                // interface is unwrapped by what it holds.
                var read = FieldAccessor.PathReader(boxType, [stateMachine, field]);
                readers.Add(box => read(box) is { } awaiter ? Unwrap(awaiter) : null);
            }
        }
        return [.. readers];
    }

    /// <summary>True when the state machine's only awaiter field is a <see cref="YieldAwaitable.YieldAwaiter"/> (it has no state to say more).</summary>
    public static bool OnlyYield(Type stateMachine) =>
        AwaiterFields(stateMachine) is [var only] && only.FieldType == typeof(YieldAwaitable.YieldAwaiter);

    private static FieldInfo[] AwaiterFields(Type stateMachine) =>
        stateMachine.GetFields(FieldAccessor.Instance).Where(f => f.Name.StartsWith(StateMachineLayout.AwaiterPrefix, StringComparison.Ordinal)).ToArray();

    private static object? Unwrap(object awaiter) => s_unwrappers.GetOrAdd(awaiter.GetType(), Unwrapper)(awaiter);

    private static Func<object, object?> Unwrapper(Type awaiter)
    {
        if (awaiter == typeof(YieldAwaitable.YieldAwaiter))
            return _ => null;
        var task = awaiter.GetField(AwaiterLayout.Task, FieldAccessor.Instance);
        if (task is not null)
            return a => task.GetValue(a);
        var value = awaiter.GetField(AwaiterLayout.ValueTask, FieldAccessor.Instance);
        var obj = value?.FieldType.GetField(AwaiterLayout.ValueTaskObject, FieldAccessor.Instance);
        if (value is not null && obj is not null)
            return a => value.GetValue(a) is { } vt ? obj.GetValue(vt) : null;
        return a => awaiter.IsValueType ? null : a;
    }
}
