using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Symbols;

namespace AsyncLens.Inventory;

/// <summary>Names what a node is when it is not an async method: the API that made it, as a person knows it.</summary>
internal static class NodeLabels
{
    private static readonly Type? s_socketSource = Type.GetType("System.Net.Sockets.Socket+AwaitableSocketAsyncEventArgs, System.Net.Sockets");

    // A snapshot classifies every node; what a type is never changes, so it is worked out once per type.
    private static readonly ConcurrentDictionary<Type, (NodeKind Kind, string? Label)> s_byType = new();
    private static readonly ConcurrentDictionary<(bool, MethodInfo), string> s_delegateLabels = new();
    private static readonly ConcurrentDictionary<Type, Func<object, object?>?> s_iteratorBoxes = new();

    /// <summary>Classifies <paramref name="target"/> (a task or a value-task source) for the graph.</summary>
    public static (NodeKind Kind, string? Label) Classify(object target)
    {
        if (BoxInfo.Of(target) is not null)
            return (NodeKind.AsyncMethod, null);
        if (target is Task task && TaskInternals.Action(task) is { } action)
        {
            var name = task.GetType().Name;
            var continuation = name.StartsWith("ContinuationTask", StringComparison.Ordinal) || name.StartsWith("ContinuationResultTask", StringComparison.Ordinal);
            return (NodeKind.DelegateTask, s_delegateLabels.GetOrAdd((continuation, action.Method),
                static key => $"{(key.Item1 ? "Task.ContinueWith" : "Task.Run")}({MethodNames.Format(key.Item2)})"));
        }
        return s_byType.GetOrAdd(target.GetType(), ClassifyType);
    }

    private static (NodeKind Kind, string? Label) ClassifyType(Type type)
    {
        if (typeof(Task).IsAssignableFrom(type))
        {
            var name = type.IsGenericType ? type.GetGenericTypeDefinition().Name : type.Name;
            return name switch
            {
                "WhenAllPromise" or "WhenAllPromise`1" => (NodeKind.Combinator, "Task.WhenAll"),
                "TwoTaskWhenAnyPromise`1" or "WhenAnyPromise`1" => (NodeKind.Combinator, "Task.WhenAny"),
                "UnwrapPromise`1" => (NodeKind.Combinator, "Task.Run"),
                "DelayPromise" or "DelayPromiseWithCancellation" => (NodeKind.Awaited, "Task.Delay"),
                "TaskNode" when type.DeclaringType == typeof(SemaphoreSlim) => (NodeKind.Awaited, "SemaphoreSlim.WaitAsync"),
                _ when type == typeof(Task) || type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Task<>) => (NodeKind.Awaited, "TaskCompletionSource"),
                _ => (NodeKind.Awaited, TypeNames.Format(type)),
            };
        }
        if (s_socketSource is not null && s_socketSource.IsAssignableFrom(type))
            return (NodeKind.Awaited, "socket I/O");
        var typeName = type.IsGenericType ? type.GetGenericTypeDefinition().Name : type.Name;
        return typeName switch
        {
            "BlockedReadAsyncOperation`1" => (NodeKind.Awaited, "ChannelReader.ReadAsync"),
            "BlockedWriteAsyncOperation`1" => (NodeKind.Awaited, "ChannelWriter.WriteAsync"),
            "WaitingReadAsyncOperation" or "WaitingWriteAsyncOperation" => (NodeKind.Awaited, $"Channel{(typeName.StartsWith("WaitingRead", StringComparison.Ordinal) ? "Reader.WaitToReadAsync" : "Writer.WaitToWriteAsync")}"),
            _ => (NodeKind.Awaited, TypeNames.Format(type)),
        };
    }

    /// <summary>An async iterator's state machine stands for the box that runs it (its builder's <c>m_task</c>), when it has one.</summary>
    public static object IteratorBox(object iterator)
    {
        try
        {
            return IteratorBoxReader(iterator.GetType())?.Invoke(iterator) is Task box && BoxInfo.Of(box) is not null ? box : iterator;
        }
        catch (NullReferenceException)
        {
            return iterator;
        }
    }

    public static bool IsIteratorStateMachine(object o) => o is IAsyncStateMachine && IteratorBoxReader(o.GetType()) is not null;

    // An async iterator's builder (<>t__builder, an AsyncIteratorMethodBuilder) keeps the box in m_task.
    private static Func<object, object?>? IteratorBoxReader(Type type) => s_iteratorBoxes.GetOrAdd(type, static t =>
        t.GetField("<>v__promiseOfValueOrEnd", FieldAccessor.Instance) is not null
        && t.GetField("<>t__builder", FieldAccessor.Instance) is { } builder
        && builder.FieldType.GetField("m_task", FieldAccessor.Instance) is { } box
            ? FieldAccessor.PathReader(t, [builder, box])
            : null);
}
