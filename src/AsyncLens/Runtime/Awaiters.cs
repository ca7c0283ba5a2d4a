using System.Runtime.CompilerServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// Who waits for a piece of async work, the way SOS <c>dumpasync</c> resolves it. For a task, its
/// continuation object: a box, an <see cref="Action"/> whose target is a box (possibly inside the runtime's
/// ContinuationWrapper) or a runtime-async chain's task, a TaskContinuation, a runtime-async chain's await of the
/// task (<see cref="RuntimeAsyncChains.WaitingTask"/>), or a list of several. For a value-task source (a pooled async
/// method's box, an async iterator, a channel operation), the continuation state it holds. An async
/// iterator's box is waited for through the iterator's own promise.
/// </summary>
internal static class Awaiters
{
    private static readonly Type? s_wrapperType = typeof(AsyncTaskMethodBuilder).Assembly.GetType(ContinuationLayout.WrapperType);
    private static readonly Func<object, Action?>? s_wrapperContinuation = FieldAccessor.Reader<Action?>(s_wrapperType, ContinuationLayout.WrapperContinuation);
    private static readonly Type? s_awaitContinuationType = typeof(Task).Assembly.GetType(ContinuationLayout.AwaitContinuationType);
    private static readonly Func<object, Action?>? s_awaitContinuationAction = FieldAccessor.Reader<Action?>(s_awaitContinuationType, ContinuationLayout.AwaitContinuationAction);
    private static readonly Type? s_continueWithType = typeof(Task).Assembly.GetType(ContinuationLayout.ContinueWithType);
    private static readonly Func<object, Task?>? s_continueWithTask = FieldAccessor.Reader<Task?>(s_continueWithType, ContinuationLayout.ContinueWithTask);
    private static readonly Type? s_syncWaiterType = typeof(Task).Assembly.GetType(ContinuationLayout.SynchronousWaitType);
    private static readonly Type? s_boxInterface = typeof(AsyncTaskMethodBuilder).Assembly.GetType(StateMachineLayout.BoxInterface);

    /// <summary>Adds what waits for <paramref name="node"/> (a task or a value-task source) to <paramref name="into"/>.</summary>
    public static void Of(object node, List<Awaiter> into)
    {
        if (node is Task task)
        {
            Resolve(TaskInternals.Continuation(task), into, 0);
            // An async iterator's consumer waits on the iterator's promise, not on its box.
            if (into.Count == 0 && BoxInfo.Of(task) is { IsIterator: true } box && box.StateMachine(task) is { } iterator)
                Resolve(ValueTaskSources.ContinuationState(iterator), into, 0);
            return;
        }
        Resolve(ValueTaskSources.ContinuationState(node), into, 0);
    }

    /// <summary>The first piece of async work (a task or a box) that waits for <paramref name="node"/>.</summary>
    public static object? FirstNode(object node)
    {
        var list = new List<Awaiter>(2);
        Of(node, list);
        foreach (var a in list)
        {
            if (a.Node is not null)
                return a.Node;
        }
        return null;
    }

    /// <summary>True for an async method box that is not a task (a pooled ValueTask method's box).</summary>
    public static bool IsValueTaskBox(object o) => o is not Task && s_boxInterface is not null && s_boxInterface.IsInstanceOfType(o);

    private static void Resolve(object? continuation, List<Awaiter> into, int depth)
    {
        if (continuation is null || depth > 8)
            return;
        switch (continuation)
        {
            case Task t:
                into.Add(new Awaiter(t, AwaiterKind.AsyncWork));
                return;
            case Action action:
                ResolveDelegateTarget(action.Target, into, depth);
                return;
            case List<object?> list:
                // The list is the runtime's; copy under its lock so a concurrent await cannot tear it.
                object?[] items;
                lock (list)
                    items = list.ToArray();
                foreach (var item in items)
                    Resolve(item, into, depth + 1);
                return;
        }
        // A runtime-async chain awaiting the task (.NET 11): the chain's task waits.
        if (RuntimeAsyncChains.WaitingTask(continuation) is { } chain)
        {
            into.Add(new Awaiter(chain, AwaiterKind.AsyncWork));
            return;
        }
        var type = continuation.GetType();
        if (s_awaitContinuationType is not null && s_awaitContinuationType.IsAssignableFrom(type))
            Resolve(s_awaitContinuationAction?.Invoke(continuation), into, depth + 1);
        else if (type == s_continueWithType && s_continueWithTask?.Invoke(continuation) is { } next)
            into.Add(new Awaiter(next, AwaiterKind.ContinueWith));
        else if (type == s_syncWaiterType)
            into.Add(new Awaiter(null, AwaiterKind.SynchronousWait));
        else if (IsValueTaskBox(continuation))
            into.Add(new Awaiter(continuation, AwaiterKind.AsyncWork));
        else
            into.Add(new Awaiter(null, AwaiterKind.Other));
    }

    private static void ResolveDelegateTarget(object? target, List<Awaiter> into, int depth)
    {
        switch (target)
        {
            case null:
                break;
            case Task t:
                into.Add(new Awaiter(t, AwaiterKind.AsyncWork));
                break;
            case var _ when target.GetType() == s_wrapperType:
                Resolve(s_wrapperContinuation?.Invoke(target), into, depth + 1);
                break;
            case var _ when IsValueTaskBox(target):
                into.Add(new Awaiter(target, AwaiterKind.AsyncWork));
                break;
            default:
                into.Add(new Awaiter(null, AwaiterKind.Other));
                break;
        }
    }
}

internal enum AwaiterKind
{
    /// <summary>An async method (its box, a task or not), a combinator or a delegate task.</summary>
    AsyncWork,
    ContinueWith,
    SynchronousWait,
    Other,
}

/// <summary>Something that waits: a piece of async work (<see cref="Node"/>), a blocked thread, or a callback.</summary>
internal readonly record struct Awaiter(object? Node, AwaiterKind Kind);
