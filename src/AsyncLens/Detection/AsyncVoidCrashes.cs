using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// async-void-crash: an <c>async void</c> method threw. Its builder has no task to hold the exception: it rethrows it on
/// the thread pool (or posts it to the method's SynchronizationContext), where nothing catches it and the process goes
/// down. When the method faults (its builder raises the operation's end, status error) what is known of it is kept,
/// keyed by the exception; when the exception then arrives as the process's unhandled one, the report is made, before
/// the exit flush writes it. Such a method is this detector's, not <see cref="UnobservedExceptions"/>'.
/// </summary>
internal sealed class AsyncVoidCrashes(IFindingSink sink, TaskRegistry registry, TimeProvider time)
{
    private static readonly ConditionalWeakTable<Type, object> s_isVoid = new();

    private readonly ConditionalWeakTable<Exception, VoidFault> _faults = new();

    /// <summary>An operation ended with an error on this thread: true when it was an async void method's (kept here).</summary>
    public bool OnFaulted(int taskId, TaskRecord? record, Exception? thrown)
    {
        if (registry.Find(taskId) is { } task)
        {
            if (BoxInfo.Of(task) is not { } box || !IsAsyncVoid(box.StateMachineType))
                return false;
            if (thrown is not null)
                _faults.AddOrUpdate(thrown, new VoidFault(taskId, record, box, null));
            return true;
        }
        if (record is not null)
            return false;
        // No box: it threw before its first await, inside its caller, which is on this stack.
        var stack = new StackTrace(2, fNeedFileInfo: false).GetFrames();
        var moveNext = Array.Find(stack, f => f.GetMethod() is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t));
        if (moveNext?.GetMethod()?.DeclaringType is not { } stateMachine || !IsAsyncVoid(stateMachine))
            return false;
        if (thrown is not null)
            _faults.AddOrUpdate(thrown, new VoidFault(taskId, null, null, stack));
        return true;
    }

    /// <summary>AppDomain.UnhandledException: the process is going down; if an async void method's exception is why, say so.</summary>
    public void OnUnhandled(object exceptionObject)
    {
        if (exceptionObject is not Exception exception)
            return;
        if (_faults.TryGetValue(exception, out var fault))
        {
            sink.Add(new AsyncVoidFinding(fault.TaskId, time.GetUtcNow(), exception, fault.Box, fault.Stack, fault.Record, null));
            return;
        }
        // Faulted before debug mode saw it start: the exception's own stack still names the method.
        var frames = new StackTrace(exception, fNeedFileInfo: false).GetFrames();
        var moveNext = Array.Find(frames, f => f.GetMethod() is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t) && IsAsyncVoid(t));
        if (moveNext?.GetMethod() is { } method)
            sink.Add(new AsyncVoidFinding(0, time.GetUtcNow(), exception, null, null, null, method));
    }

    /// <summary>True when the state machine's builder is <see cref="AsyncVoidMethodBuilder"/>: an <c>async void</c> method (or lambda).</summary>
    public static bool IsAsyncVoid(Type stateMachine)
    {
        var definition = stateMachine.IsGenericType ? stateMachine.GetGenericTypeDefinition() : stateMachine;
        return s_isVoid.GetValue(definition, static t =>
            t.GetField(StateMachineLayout.Builder, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.FieldType == typeof(AsyncVoidMethodBuilder)) is true;
    }

    private sealed record VoidFault(int TaskId, TaskRecord? Record, BoxInfo? Box, StackFrame[]? Stack);
}
