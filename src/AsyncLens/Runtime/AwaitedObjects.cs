using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace AsyncLens.Runtime;

/// <summary>
/// What a parked state machine awaits, read from its awaiter field: the compiler stores the awaiter of the
/// await it suspends on in a <c>&lt;&gt;u__N</c> field and clears it on resuming, so at most one is set.
/// A <c>TaskAwaiter</c> holds the task (<c>m_task</c>); a <c>ValueTaskAwaiter</c> its value task, whose
/// <c>_obj</c> is a task or an <see cref="System.Threading.Tasks.Sources.IValueTaskSource"/>.
/// </summary>
internal static class AwaitedObjects
{
    /// <summary>Stands for <c>await Task.Yield()</c>, which leaves no object behind.</summary>
    public static readonly object Yield = new();

    private static readonly ConcurrentDictionary<Type, FieldInfo[]> s_awaiterFields = new();
    private static readonly ConcurrentDictionary<Type, Func<object, object?>> s_unwrappers = new();

    /// <summary>The object <paramref name="stateMachine"/> is parked awaiting, or null (running, done, or unknown).</summary>
    public static object? Of(object stateMachine)
    {
        foreach (var field in s_awaiterFields.GetOrAdd(stateMachine.GetType(), AwaiterFields))
        {
            var awaiter = field.GetValue(stateMachine);
            if (awaiter is null)
                continue;
            var awaited = s_unwrappers.GetOrAdd(awaiter.GetType(), Unwrapper)(awaiter);
            if (awaited is not null)
                return awaited;
        }
        return null;
    }

    /// <summary>The state machine inside a box (a Task box, a pooled box), or null.</summary>
    public static object? StateMachineOf(object box) =>
        box.GetType().GetField("StateMachine", BindingFlags.Instance | BindingFlags.Public)?.GetValue(box);

    private static FieldInfo[] AwaiterFields(Type stateMachine) =>
        stateMachine.GetFields(FieldAccessor.Instance).Where(f => f.Name.StartsWith("<>u__", StringComparison.Ordinal)).ToArray();

    private static Func<object, object?> Unwrapper(Type awaiter)
    {
        if (awaiter == typeof(YieldAwaitable.YieldAwaiter))
            return _ => null; // a default YieldAwaiter is indistinguishable from a live one: see YieldOf
        var task = awaiter.GetField("m_task", FieldAccessor.Instance);
        if (task is not null)
            return a => task.GetValue(a);
        var value = awaiter.GetField("_value", FieldAccessor.Instance);
        var obj = value?.FieldType.GetField("_obj", FieldAccessor.Instance);
        if (value is not null && obj is not null)
            return a => value.GetValue(a) is { } vt ? obj.GetValue(vt) : null;
        // A custom awaiter: itself, if it is a reference type holding state.
        return a => awaiter.IsValueType ? null : a;
    }

    /// <summary>True when the state machine's only awaiter field is a <see cref="YieldAwaitable.YieldAwaiter"/> (it has no state to say more).</summary>
    public static bool AwaitsYield(object stateMachine) =>
        s_awaiterFields.GetOrAdd(stateMachine.GetType(), AwaiterFields) is [var only] && only.FieldType == typeof(YieldAwaitable.YieldAwaiter);
}
