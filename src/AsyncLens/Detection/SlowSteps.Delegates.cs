using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// A delegate task's run (<see cref="FrameKind.Delegate"/>: <c>Task.Run</c>, <c>Task.Factory.StartNew</c> on any
/// scheduler, a continuation task), bracketed by the same TPL events as a step. Its own code is where blocking work
/// belongs and is never reported; but an async method it calls runs its first step inside it, up to its first await
/// that does not complete at once, and no other event brackets that: an actor framework's <c>ReceiveAsync</c> handler
/// (Akka.NET runs it in a delegate task of its own scheduler), <c>Task.Run(async () => ...)</c>,
/// <c>Task.Factory.StartNew(() => HandleAsync(), ..., scheduler)</c>. Such a first step is judged as one run inside a
/// runtime-async step is (<see cref="JudgeFirstStepsOnly"/>).
/// </summary>
internal sealed partial class SlowSteps
{
    private void OnDelegateEnd(ThreadTracker tracker, Frame frame, long now)
    {
        // No task created in it: no first step of an async method ended in it (the common case, read first). Below the
        // threshold nothing is judged, and the delegate's code is not read: its attribute read, ~0.8 µs, was paid by
        // every `Task.Run(() => Leaf())` whose run created a box (docs/performance.md).
        if (frame.FirstCreated is not { } first || OwnTime(tracker, frame, now) < settings.SlowTicks)
            return;
        var code = frame.Kind == FrameKind.WorkItem ? CallbackOf(first) : frame.Code;
        JudgeFirstStepsOnly(tracker, frame, now, delegateRun: true, OwnSynchronousCode(code));
    }

    // A work item's callback is known only from the stack that created the first box in it (sampled per created method:
    // DebugEngine.CreatedCode); a method that resumed since has its box in its record (it may have completed).
    private MethodInfo? CallbackOf(TaskRecord first) =>
        first.Sample is { } sample && (first.Box ?? (findTask(first.Id) is { } task ? BoxInfo.Of(task) : null)) is { } box
            && MethodNames.Kickoff(box.StateMachineType) is { } kickoff
            ? Reporting.CreationSites.CallerOf(sample.Frames, kickoff)
            : null;

    // The delegate's method when it is the app's own and not an async method (`() => HandleAsync()`, not `async () => ...`,
    // whose first step is the run itself and is found by its box): its code is read for what it did before calling one.
    private static MethodInfo? OwnSynchronousCode(MethodInfo? code) =>
        code?.DeclaringType?.Assembly is { } assembly && Symbols.CodeOrigin.IsAppCode(assembly)
            && code.GetCustomAttribute<AsyncStateMachineAttribute>() is null
            ? code
            : null;
}
