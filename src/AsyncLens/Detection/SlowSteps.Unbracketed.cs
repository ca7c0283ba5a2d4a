using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// Stretches no step brackets, judged from frames that stand in for one (see <see cref="FrameKind.Prelude"/>,
/// <see cref="FrameKind.Request"/>): async Main's first step, and the start of an ASP.NET Core request that began
/// outside any step. They are reported as the first step of a method of the user's (<see cref="StepFinding.Unbracketed"/>).
/// </summary>
internal sealed partial class SlowSteps
{
    /// <summary>
    /// The prelude ends on its own thread: the thread blocks on <paramref name="waited"/> (async Main's entry point
    /// waiting for Main), or the process exits with it still open (<paramref name="waited"/> null: Main ended without
    /// ever waiting). Judged as Main's first step: the waited method's, if it is the user's, else the entry point's.
    /// </summary>
    public void OnPreludeEnd(ThreadTracker tracker, Frame frame, Task? waited, long now)
    {
        if (frame.Kind != FrameKind.Prelude || OwnTime(tracker, frame, now) < settings.SlowTicks)
            return;
        // Read first: Main (and the methods it started) go on on other threads, and may resume or complete.
        var stopped = waited is null ? -2 : BoxInfo.ReadStateOnce(waited) is var parked and >= 0 ? parked : BoxInfo.UnknownState;
        var firstSteps = FirstSteps(frame);
        var mainBox = waited is null ? null : BoxInfo.Of(waited);
        stalls.CatchUp(now);
        // At exit (another thread), all the process's compilation since it began is taken off: more than its own.
        var onItsThread = tracker.Thread == Thread.CurrentThread;
        var jit = onItsThread ? RuntimeTime.JitOnThisThread - frame.JitStart : RuntimeTime.JitInProcess - frame.ProcessJitStart;
        var wall = OwnTime(tracker, frame, now);
        var own = wall - RuntimesShare(wall, jit, Preempted(frame, onItsThread ? tracker.OwnRunDelay() : RunQueue.Delay(tracker.OsThreadId), now));
        if (own - NotItsOwn(frame, now) < settings.SlowTicks || !frame.TryClaimSlowReport())
            return;
        Type? stateMachine;
        var stack = RawAsyncStack.Empty;
        if (waited is null)
            stateMachine = EntryPointStateMachine();
        else if (mainBox is not null)
        {
            stateMachine = mainBox.StateMachineType;
            stack = RawAsyncStack.Capture(waited, -1);
        }
        else
            return;
        if (stateMachine is null || !Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
            return;
        sink.Add(new StepFinding(waited?.Id ?? 0, time.GetUtcNow(), tracker.ThreadId, stateMachine, -1, stopped,
            DetectionSettings.Seconds(own), Ongoing: false, stack, null) { FirstSteps = firstSteps, Unbracketed = true });
    }

    /// <summary>
    /// A request stretch (see <see cref="FrameKind.Request"/>) up to <paramref name="end"/>, its last task creation:
    /// slow, it is reported as the first step of the user's async method whose box it created after a gap of at
    /// least half its time (what ran before that method's first await), if that first step names a blocking call.
    /// </summary>
    public void OnRequestStretch(ThreadTracker tracker, Frame frame, long end)
    {
        if (frame.Kind != FrameKind.Request || frame.SlowReported || OwnTime(tracker, frame, end) < settings.SlowTicks)
            return;
        var firstSteps = FirstSteps(frame);
        var wall = OwnTime(tracker, frame, end);
        var own = wall - RuntimesShare(wall, RuntimeTime.JitOnThisThread - frame.JitStart, Preempted(frame, tracker.OwnRunDelay(), end));
        stalls.CatchUp(end);
        if (own - NotItsOwn(frame, end) < settings.SlowTicks)
            return;
        var first = firstSteps.Where(s => s.GapTicks * 2 >= own).MaxBy(s => s.GapTicks);
        if (first is null || !frame.TryClaimSlowReport())
            return;
        sink.Add(new StepFinding(first.Record.Id, time.GetUtcNow(), tracker.ThreadId, first.Box.StateMachineType, -1,
            first.State >= 0 ? first.State : BoxInfo.UnknownState, DetectionSettings.Seconds(own), Ongoing: false,
            RawAsyncStack.Capture(first.Task, first.State), first.Record) { FirstSteps = firstSteps, Unbracketed = true });
    }

    /// <summary>
    /// Compiles ahead what the end of a prelude runs first. Cold, it takes milliseconds, in which the methods Main
    /// started may complete and leave the registry before they are read.
    /// </summary>
    public static void PrepareForPrelude()
    {
        const System.Reflection.BindingFlags Any = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static
            | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        foreach (var name in new[] { nameof(OnPreludeEnd), nameof(FirstSteps), nameof(OwnTime) })
            System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(typeof(SlowSteps).GetMethod(name, Any)!.MethodHandle);
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(typeof(BoxInfo).GetMethod(nameof(BoxInfo.ReadStateOnce))!.MethodHandle);
    }

    // The entry point's async method: Main itself, or the async method the compiler's synchronous entry calls
    // (`Main` for `async Task Main`, `<Main>$` for top-level statements).
    private static Type? EntryPointStateMachine()
    {
        if (System.Reflection.Assembly.GetEntryAssembly()?.EntryPoint is not { } entry)
            return null;
        const System.Reflection.BindingFlags Static = System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        var candidates = entry.DeclaringType?.GetMethods(Static).Where(m => m.Name is "Main" or "<Main>$") ?? [];
        return candidates.Prepend(entry)
            .Select(m => m.GetCustomAttributes(typeof(System.Runtime.CompilerServices.AsyncStateMachineAttribute), false).FirstOrDefault())
            .OfType<System.Runtime.CompilerServices.AsyncStateMachineAttribute>()
            .FirstOrDefault()?.StateMachineType;
    }
}
