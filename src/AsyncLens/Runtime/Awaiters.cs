using System.Runtime.CompilerServices;

namespace AsyncLens.Runtime;

/// <summary>
/// Resolves a task's continuation object to the tasks that wait for it, the way SOS
/// <c>dumpasync</c> does: a box, an <see cref="Action"/> whose target is a box (possibly
/// inside the runtime's ContinuationWrapper), a TaskContinuation, or a list of several.
/// </summary>
internal static class Awaiters
{
    private static readonly Type? s_wrapperType = typeof(AsyncTaskMethodBuilder).Assembly.GetType("System.Runtime.CompilerServices.AsyncMethodBuilderCore+ContinuationWrapper");
    private static readonly Func<object, Action?>? s_wrapperContinuation = FieldAccessor.Reader<Action?>(s_wrapperType, "_continuation");
    private static readonly Type? s_awaitContinuationType = typeof(Task).Assembly.GetType("System.Threading.Tasks.AwaitTaskContinuation");
    private static readonly Func<object, Action?>? s_awaitContinuationAction = FieldAccessor.Reader<Action?>(s_awaitContinuationType, "m_action");
    private static readonly Type? s_continueWithType = typeof(Task).Assembly.GetType("System.Threading.Tasks.ContinueWithTaskContinuation");
    private static readonly Func<object, Task?>? s_continueWithTask = FieldAccessor.Reader<Task?>(s_continueWithType, "m_task");
    private static readonly Type? s_syncWaiterType = typeof(Task).Assembly.GetType("System.Threading.Tasks.Task+SetOnInvokeMres");

    /// <summary>Adds what waits for <paramref name="task"/> to <paramref name="into"/>.</summary>
    public static void Of(Task task, List<Awaiter> into) => Resolve(TaskInternals.Continuation(task), into, 0);

    /// <summary>The first task (async method or combinator) that waits for <paramref name="task"/>.</summary>
    public static Task? FirstTask(Task task)
    {
        var list = new List<Awaiter>(2);
        Of(task, list);
        foreach (var a in list)
        {
            if (a.Task is not null)
                return a.Task;
        }
        return null;
    }

    private static void Resolve(object? continuation, List<Awaiter> into, int depth)
    {
        if (continuation is null || depth > 8)
            return;
        switch (continuation)
        {
            case Task t:
                into.Add(new Awaiter(t, AwaiterKind.Task));
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
        var type = continuation.GetType();
        if (s_awaitContinuationType is not null && s_awaitContinuationType.IsAssignableFrom(type))
            Resolve(s_awaitContinuationAction?.Invoke(continuation), into, depth + 1);
        else if (type == s_continueWithType && s_continueWithTask?.Invoke(continuation) is { } next)
            into.Add(new Awaiter(next, AwaiterKind.ContinueWith));
        else if (type == s_syncWaiterType)
            into.Add(new Awaiter(null, AwaiterKind.SynchronousWait));
        else if (continuation is IAsyncStateMachine)
            into.Add(new Awaiter(null, AwaiterKind.Other));
    }

    private static void ResolveDelegateTarget(object? target, List<Awaiter> into, int depth)
    {
        switch (target)
        {
            case Task t:
                into.Add(new Awaiter(t, AwaiterKind.Task));
                break;
            case not null when target.GetType() == s_wrapperType:
                Resolve(s_wrapperContinuation?.Invoke(target), into, depth + 1);
                break;
            case not null:
                into.Add(new Awaiter(null, AwaiterKind.Other));
                break;
        }
    }
}

internal enum AwaiterKind
{
    Task,
    ContinueWith,
    SynchronousWait,
    Other,
}

/// <summary>Something that waits for a task: another task (async method or combinator), a blocked thread, or a callback.</summary>
internal readonly record struct Awaiter(Task? Task, AwaiterKind Kind);
