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
/// cancelled-cleanup: an await in a <c>finally</c> block (or in a <c>DisposeAsync</c>) ended with an
/// OperationCanceledException whose token was already canceled: the cleanup was given the token that canceled the work,
/// and never ran. Seen as a first-chance OperationCanceledException with a canceled token in an async method of the
/// user's that can await in a finally (the compiler gave it a pending-exception field) or is a DisposeAsync; whether the
/// line is in the finally block, and whether the await completed at once, is decided from the IL when the report is
/// built (<see cref="FinallyBodies"/>).
/// </summary>
internal sealed class CancelledCleanups(IFindingSink sink, TimeProvider time)
{
    private static readonly ConditionalWeakTable<Type, object> s_cleanup = new();

    private readonly ConditionalWeakTable<Exception, object> _seen = new();

    public void OnFirstChance(Exception exception, ThreadTracker? tracker)
    {
        if (exception is not OperationCanceledException { CancellationToken.IsCancellationRequested: true } canceled || _seen.TryGetValue(exception, out _))
            return;
        var stack = new StackTrace(1, fNeedFileInfo: false).GetFrames();
        var frame = Array.Find(stack, f => f.GetMethod() is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t));
        if (frame?.GetMethod() is not { DeclaringType: { } stateMachine } moveNext || !CodeOrigin.IsUserCode(moveNext) || !MayClean(stateMachine))
            return;
        _seen.AddOrUpdate(exception, exception);
        StepContext? step = null;
        OperationCanceledException? pending = null;
        if (tracker?.Top is { Kind: FrameKind.AsyncStep, Task: { } task, Box: { } box } top && box.StateMachineType == stateMachine)
        {
            step = new StepContext(top.TaskId, box, null, top.ResumedState, RawAsyncStack.Capture(task, top.ResumedState), top.Record);
            pending = Pending(task);
        }
        sink.Add(new CleanupFinding(step?.TaskId ?? 0, time.GetUtcNow(), canceled, stack, step, pending));
    }

    // The exception the try block ended with, waiting in the state machine (its pending-exception field) for the finally
    // block to end: a cancellation there says which token canceled the work.
    private static OperationCanceledException? Pending(Task box)
    {
        if (box.GetType().GetField(StateMachineLayout.BoxStateMachine, BindingFlags.Instance | BindingFlags.Public)?.GetValue(box) is not { } stateMachine)
            return null;
        foreach (var field in stateMachine.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (field.FieldType == typeof(object) && field.GetValue(stateMachine) is OperationCanceledException pending)
                return pending;
        }
        return null;
    }

    private static bool MayClean(Type stateMachine)
    {
        var definition = stateMachine.IsGenericType ? stateMachine.GetGenericTypeDefinition() : stateMachine;
        return s_cleanup.GetValue(definition, static t =>
            FinallyBodies.MayAwaitInFinally(t) || MethodNames.Kickoff(t)?.Name == "DisposeAsync") is true;
    }
}
