using System.Collections.Concurrent;
using System.Reflection;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// Who waits for a <c>ValueTask</c>'s source. A box awaiting an <see cref="System.Threading.Tasks.Sources.IValueTaskSource"/>
/// (a pooled async method's box, an async iterator, a channel operation, a socket) hands it itself as the
/// continuation state: <c>ManualResetValueTaskSourceCore._continuationState</c>, or a <c>_continuationState</c>
/// field of the source's own.
/// </summary>
internal static class ValueTaskSources
{
    private static readonly ConcurrentDictionary<Type, Func<object, object?>?> s_readers = new();

    /// <summary>The continuation state the source holds (the awaiting box, when a box awaits it), or null.</summary>
    public static object? ContinuationState(object source) => s_readers.GetOrAdd(source.GetType(), Reader)?.Invoke(source);

    private static Func<object, object?>? Reader(Type type)
    {
        // The source's own field (channels' AsyncOperation, sockets' AwaitableSocketAsyncEventArgs)...
        if (FindField(type, AwaitedLayout.ContinuationState) is { } own)
            return o => own.GetValue(o);
        // ...or inside a ManualResetValueTaskSourceCore<T> it holds (pooled boxes: _valueTaskSource;
        // async iterators: <>v__promiseOfValueOrEnd).
        for (var t = type; t is not null; t = t.BaseType)
        {
            foreach (var core in t.GetFields(FieldAccessor.Instance | BindingFlags.DeclaredOnly))
            {
                if (core.FieldType.IsGenericType && core.FieldType.GetGenericTypeDefinition() == typeof(System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore<>)
                    && core.FieldType.GetField(AwaitedLayout.ContinuationState, FieldAccessor.Instance) is { } state)
                {
                    return o => core.GetValue(o) is { } boxedCore ? state.GetValue(boxedCore) : null;
                }
            }
        }
        return null;
    }

    private static FieldInfo? FindField(Type type, string name)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.GetField(name, FieldAccessor.Instance | BindingFlags.DeclaredOnly) is { } field)
                return field;
        }
        return null;
    }
}
