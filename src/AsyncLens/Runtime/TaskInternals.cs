using System.Reflection;
using System.Runtime.ExceptionServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// Private fields of <see cref="Task"/> that say who waits for a task and whether its
/// exception was observed (<see cref="TaskLayout"/>). When one is missing the feature that needs
/// it goes quiet rather than failing.
/// </summary>
internal static class TaskInternals
{
    private static readonly Func<object, object?>? s_continuation = FieldAccessor.Reader<object?>(typeof(Task), TaskLayout.ContinuationObject);
    private static readonly Func<object, object?>? s_action = FieldAccessor.Reader<object?>(typeof(Task), TaskLayout.Action);
    private static readonly Func<object, int>? s_flags = FieldAccessor.Reader<int>(typeof(Task), TaskLayout.StateFlags);
    private static readonly Func<object, object?>? s_contingent = FieldAccessor.Reader<object?>(typeof(Task), TaskLayout.ContingentProperties);
    private static readonly object? s_completionSentinel = typeof(Task).GetField(TaskLayout.CompletionSentinel, FieldAccessor.Static)?.GetValue(null);

    private static readonly FieldInfo? s_holderField = typeof(Task).Assembly.GetType(TaskLayout.ContingentPropertiesType)?.GetField(TaskLayout.ExceptionsHolder, FieldAccessor.Instance);
    private static readonly Type? s_holderType = typeof(Task).Assembly.GetType(TaskLayout.ExceptionHolderType);
    private static readonly FieldInfo? s_isHandled = s_holderType?.GetField(TaskLayout.ExceptionHandled, FieldAccessor.Instance);
    private static readonly FieldInfo? s_faultExceptions = s_holderType?.GetField(TaskLayout.FaultExceptions, FieldAccessor.Instance);
    private static readonly FieldInfo? s_cancellation = s_holderType?.GetField(TaskLayout.CancellationException, FieldAccessor.Instance);

    private static readonly Func<Task?>? s_current = CurrentTaskGetter();

    public static bool IsAvailable => s_continuation is not null;

    /// <summary>The delegate task (Task.Run, ContinueWith) running on the calling thread, if any (not an async method's box).</summary>
    public static Task? Current() => s_current?.Invoke();

    private static Func<Task?>? CurrentTaskGetter()
    {
        try
        {
            return typeof(Task).GetMethod(TaskLayout.CurrentTaskGetter, FieldAccessor.Static)?.CreateDelegate<Func<Task?>>();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>What <c>m_continuationObject</c> holds: null, a box, an Action, a TaskContinuation, a list of them...</summary>
    public static object? Continuation(Task task)
    {
        var value = s_continuation?.Invoke(task);
        return ReferenceEquals(value, s_completionSentinel) ? null : value;
    }

    /// <summary>The delegate a <c>Task.Run</c> / <c>ContinueWith</c> task runs.</summary>
    public static Delegate? Action(Task task) => s_action?.Invoke(task) as Delegate;

    /// <summary>The task's <see cref="TaskLayout.Flags"/> (0 when the field is missing).</summary>
    public static int Flags(Task task) => s_flags?.Invoke(task) ?? 0;

    /// <summary>True once someone awaited the faulted task, read its Result or its Exception.</summary>
    public static bool ExceptionObserved(Task task)
    {
        var holder = Holder(task);
        return holder is null || s_isHandled?.GetValue(holder) is true;
    }

    /// <summary>The exception that faulted the task, read without marking it observed (unlike <see cref="Task.Exception"/>).</summary>
    public static Exception? FaultException(Task task)
    {
        return Holder(task) is { } holder && s_faultExceptions?.GetValue(holder) is List<ExceptionDispatchInfo> { Count: > 0 } list
            ? list[0].SourceException
            : null;
    }

    /// <summary>Every exception the task faulted with, in its order, read without marking it observed.</summary>
    public static IReadOnlyList<Exception> FaultExceptions(Task task) =>
        Holder(task) is { } holder && s_faultExceptions?.GetValue(holder) is List<ExceptionDispatchInfo> list
            ? list.ConvertAll(static e => e.SourceException)
            : [];

    /// <summary>The exception that cancelled the task (its token says which source), read without throwing it; null when none was kept.</summary>
    public static OperationCanceledException? CancellationException(Task task) =>
        Holder(task) is { } holder
            ? s_cancellation?.GetValue(holder) switch
            {
                ExceptionDispatchInfo info => info.SourceException as OperationCanceledException,
                OperationCanceledException direct => direct,
                _ => null,
            }
            : null;

    private static object? Holder(Task task) =>
        s_contingent?.Invoke(task) is { } cp ? s_holderField?.GetValue(cp) : null;
}
