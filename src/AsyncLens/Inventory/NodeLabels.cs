using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Symbols;

namespace AsyncLens.Inventory;

/// <summary>Names what a node is when it is not an async method: the API that made it, as a person knows it.</summary>
internal static class NodeLabels
{
    private static readonly Type? s_socketSource = Type.GetType("System.Net.Sockets.Socket+AwaitableSocketAsyncEventArgs, System.Net.Sockets");

    /// <summary>Classifies <paramref name="target"/> (a task or a value-task source) for the graph.</summary>
    public static (NodeKind Kind, string? Label) Classify(object target)
    {
        if (BoxInfo.Of(target) is not null)
            return (NodeKind.AsyncMethod, null);
        var type = target.GetType();
        if (target is Task task)
        {
            if (TaskInternals.Action(task) is { } action)
            {
                var verb = type.Name.StartsWith("ContinuationTask", StringComparison.Ordinal) || type.Name.StartsWith("ContinuationResultTask", StringComparison.Ordinal)
                    ? "Task.ContinueWith" : "Task.Run";
                return (NodeKind.DelegateTask, $"{verb}({MethodNames.Format(action.Method)})");
            }
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
        if (s_socketSource is not null && s_socketSource.IsInstanceOfType(target))
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
        var builder = iterator.GetType().GetField("<>t__builder", FieldAccessor.Instance)?.GetValue(iterator);
        return builder?.GetType().GetField("m_task", FieldAccessor.Instance)?.GetValue(builder) is Task box && BoxInfo.Of(box) is not null ? box : iterator;
    }

    public static bool IsIteratorStateMachine(object o) =>
        o is IAsyncStateMachine && o.GetType().GetField("<>v__promiseOfValueOrEnd", FieldAccessor.Instance) is not null;
}
