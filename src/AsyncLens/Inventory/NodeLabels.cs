using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Inventory;

/// <summary>
/// Names what a node is when it is not an async method: the API that made it, as a person knows it. The decision is
/// made on the runtime's type names (<see cref="ByDefinition"/>), so the out-of-process reader, which has only names,
/// makes the same one.
/// </summary>
internal static class NodeLabels
{
    private static readonly ConcurrentDictionary<Type, FieldInfo?> s_sourceFields = new();
    private static readonly Type? s_socketSource = Type.GetType($"{AwaitedLayout.SocketOperationType}, {AwaitedLayout.SocketsAssembly}");

    // A snapshot classifies every node; what a type is never changes, so it is worked out once per type.
    private static readonly ConcurrentDictionary<Type, (NodeKind Kind, string? Label)> s_byType = new();
    private static readonly ConcurrentDictionary<(bool, bool, MethodInfo), string> s_delegateLabels = new();
    private static readonly ConcurrentDictionary<Type, Func<object, object?>?> s_iteratorBoxes = new();

    /// <summary>Classifies <paramref name="target"/> (a task or a value-task source) for the graph.</summary>
    public static (NodeKind Kind, string? Label) Classify(object target)
    {
        if (BoxInfo.Of(target) is not null)
            return (NodeKind.AsyncMethod, null);
        if (target is Task task && TaskInternals.Action(task) is { } action)
        {
            return (NodeKind.DelegateTask, s_delegateLabels.GetOrAdd((IsContinueWith(RuntimeNames.Definition(task.GetType())), task.Status == TaskStatus.Created, action.Method),
                static key => DelegateLabel(key.Item1, key.Item2, MethodNames.Format(key.Item3))));
        }
        // ValueTask.AsTask() of a source: what it waits for is the source (a socket's operation, a channel's, a library's).
        if (target is Task && SourceOf(target) is { } source)
            return (NodeKind.Awaited, Classify(source).Label);
        return s_byType.GetOrAdd(target.GetType(), static type =>
        {
            var (kind, label) = ByDefinition(RuntimeNames.Definition(type), typeof(Task).IsAssignableFrom(type), s_socketSource?.IsAssignableFrom(type) == true);
            return (kind, label ?? TypeNames.Format(type));
        });
    }

    /// <summary>
    /// What a runtime type (by <see cref="RuntimeNames.Definition(string)"/>) is in the graph, and the API a person
    /// knows it by; the label is null for types with no such name (the caller spells the type).
    /// </summary>
    public static (NodeKind Kind, string? Label) ByDefinition(string definition, bool isTask, bool isSocketOperation)
    {
        if (isTask)
        {
            return definition switch
            {
                AwaitedLayout.WhenAllType => (NodeKind.Combinator, "Task.WhenAll"),
                AwaitedLayout.WhenAnyOfTwoType or AwaitedLayout.WhenAnyType => (NodeKind.Combinator, "Task.WhenAny"),
                AwaitedLayout.UnwrapType => (NodeKind.Combinator, "Task.Run"),
                AwaitedLayout.DelayType or AwaitedLayout.DelayWithCancellationType => (NodeKind.Awaited, "Task.Delay"),
                AwaitedLayout.WaitAsyncType => (NodeKind.Awaited, "Task.WaitAsync"),
                AwaitedLayout.SemaphoreWaiterType => (NodeKind.Awaited, NodeTexts.SemaphoreWait),
                TaskLayout.Type => (NodeKind.Awaited, "TaskCompletionSource"), // Task and Task<T>: a promise completed by hand
                _ => (NodeKind.Awaited, null),
            };
        }
        if (isSocketOperation)
            return (NodeKind.Awaited, "socket I/O");
        return definition switch
        {
            AwaitedLayout.ChannelBlockedReadType => (NodeKind.Awaited, "ChannelReader.ReadAsync"),
            AwaitedLayout.ChannelBlockedWriteType => (NodeKind.Awaited, "ChannelWriter.WriteAsync"),
            AwaitedLayout.ChannelWaitingReadType => (NodeKind.Awaited, "ChannelReader.WaitToReadAsync"),
            AwaitedLayout.ChannelWaitingWriteType => (NodeKind.Awaited, "ChannelWriter.WaitToWriteAsync"),
            _ => (NodeKind.Awaited, null),
        };
    }

    private static object? SourceOf(object task) =>
        s_sourceFields.GetOrAdd(task.GetType(), static type => RuntimeNames.Definition(type) == AwaitedLayout.ValueTaskAsTaskType
            ? type.GetField(AwaitedLayout.ValueTaskAsTaskSource, BindingFlags.Instance | BindingFlags.NonPublic)
            : null)?.GetValue(task);

    /// <summary>A task <c>ContinueWith</c> made (a delegate task that runs once the task it continues completes).</summary>
    public static bool IsContinueWith(string definition) => Array.IndexOf(AwaitedLayout.ContinueWithTaskTypes, definition) >= 0;

    /// <summary><c>Task.Run(Shop.Load()+() =&gt; { })</c>, <c>Task.ContinueWith(...)</c>.</summary>
    /// <summary>
    /// How a delegate task was made, as its code says it: <c>Task.ContinueWith(M)</c>, <c>Task.Run(M)</c> (or
    /// <c>Task.Factory.StartNew</c>), or, for one created and never started (<paramref name="notStarted"/>), <c>new Task(M)</c>
    /// (Akka.NET keeps its termination callbacks so until the actor system stops).
    /// </summary>
    public static string DelegateLabel(bool continueWith, bool notStarted, string method) =>
        $"{(continueWith ? "Task.ContinueWith" : notStarted ? "new Task" : "Task.Run")}({method})";

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

    // An async iterator's builder keeps the box.
    private static Func<object, object?>? IteratorBoxReader(Type type) => s_iteratorBoxes.GetOrAdd(type, static t =>
        t.GetField(StateMachineLayout.IteratorPromise, FieldAccessor.Instance) is not null
        && t.GetField(StateMachineLayout.Builder, FieldAccessor.Instance) is { } builder
        && builder.FieldType.GetField(StateMachineLayout.IteratorBuilderTask, FieldAccessor.Instance) is { } box
            ? FieldAccessor.PathReader(t, [builder, box])
            : null);
}
