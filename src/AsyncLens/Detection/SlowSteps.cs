using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// slow-step: one step of an async method (a MoveNext between two awaits) held its thread for at
/// least the threshold. Its own time is measured from the runtime's TraceSynchronousWork events, minus
/// the steps of other async methods that ran inline inside it, blocking waits reported on their own,
/// JIT compilation on its thread and (Linux) time its thread waited for a CPU; and it must be slow even
/// without the GC pauses that happened meanwhile.
/// hung-step: the watchdog sees a step still running past the hung threshold, and says so once.
/// </summary>
internal sealed class SlowSteps(DetectionSettings settings, IFindingSink sink, TimeProvider time, Func<int, Task?> findTask, Stalls stalls)
{
    // Slow-step findings being built on app threads: process exit waits for them.
    private int _inFlight;

    /// <summary>Called on the app thread as a step ends, while its frame is still on the thread's stack.</summary>
    public void OnStepEnd(ThreadTracker tracker, Frame frame, long now)
    {
        if (frame.Kind != FrameKind.AsyncStep || frame.Box is not { } box || frame.Task is not { } task)
            return;
        var own = OwnTime(frame, now);
        if (own < settings.SlowTicks)
            return;
        var ownJit = RuntimeTime.JitOnThisThread - frame.JitStart;
        own -= ownJit + Preempted(frame, tracker.OwnRunDelay());
        if (own < settings.SlowTicks)
            return;
        Interlocked.Increment(ref _inFlight);
        try
        {
            // Read before waiting for the watchdog: the methods this step started go on elsewhere, and may complete.
            var stopped = StoppedState(frame, task, box);
            var firstSteps = FirstSteps(frame);
            stalls.CatchUp(now);
            if (own - NotItsOwn(frame, now) < settings.SlowTicks || !frame.TryClaimSlowReport())
                return;
            var stack = frame.Captured is { } captured && captured.FrameVersion == frame.Version
                ? captured.Stack
                : RawAsyncStack.Capture(task, frame.ResumedState);
            sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box.StateMachineType, frame.ResumedState, stopped,
                DetectionSettings.Seconds(own), Ongoing: false, stack, frame.Record) { FirstSteps = firstSteps, WarmUp = WarmingUp(frame, box, now) });
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// The prelude ends on its own thread: the thread blocks on <paramref name="waited"/> (async Main's entry point
    /// waiting for Main), or the process exits with it still open (<paramref name="waited"/> null: Main ended without
    /// ever waiting). Judged as Main's first step: the waited method's, if it is the user's, else the entry point's.
    /// </summary>
    public void OnPreludeEnd(ThreadTracker tracker, Frame frame, Task? waited, long now)
    {
        if (frame.Kind != FrameKind.Prelude || OwnTime(frame, now) < settings.SlowTicks)
            return;
        // Read first: Main (and the methods it started) go on on other threads, and may resume or complete.
        var stopped = waited is null ? -2 : BoxInfo.ReadStateOnce(waited) is var parked and >= 0 ? parked : BoxInfo.UnknownState;
        var firstSteps = FirstSteps(frame);
        var mainBox = waited is null ? null : BoxInfo.Of(waited);
        stalls.CatchUp(now);
        // At exit (another thread), all the process's compilation since it began is taken off: more than its own.
        var onItsThread = tracker.Thread == Thread.CurrentThread;
        var jit = onItsThread ? RuntimeTime.JitOnThisThread - frame.JitStart : RuntimeTime.JitInProcess - frame.ProcessJitStart;
        var own = OwnTime(frame, now) - jit - Preempted(frame, onItsThread ? tracker.OwnRunDelay() : RunQueue.Delay(tracker.OsThreadId));
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
        if (frame.Kind != FrameKind.Request || frame.SlowReported || OwnTime(frame, end) < settings.SlowTicks)
            return;
        var firstSteps = FirstSteps(frame);
        var own = OwnTime(frame, end) - (RuntimeTime.JitOnThisThread - frame.JitStart) - Preempted(frame, tracker.OwnRunDelay());
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

    /// <summary>Watchdog tick: read the parents of long steps while they still exist; report hung ones.</summary>
    public void Tick(long now)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            var frame = InnermostStep(tracker);
            if (frame is null)
                continue;
            var version = frame.Version;
            var task = frame.Task;
            var box = frame.Box;
            if ((version & 1) == 0 || task is null || box is null)
                continue;
            var own = OwnTime(frame, now);
            if (own < settings.SlowTicks / 2)
                continue;
            own -= Preempted(frame, RunQueue.Delay(tracker.OsThreadId));
            if (own >= settings.SlowTicks / 2 && frame.Captured is null)
            {
                var stack = RawAsyncStack.Capture(task, frame.ResumedState);
                if (frame.Version == version)
                    frame.Captured = new CapturedStack(version, stack);
            }
            if (own < settings.HungTicks || frame.HungReported || tracker.Wait is { IsOpen: true }
                || own - NotItsOwn(frame, now) < settings.HungTicks)
                continue;
            var hungStack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
            if (frame.Version != version)
                continue;
            frame.HungReported = true;
            sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box.StateMachineType, frame.ResumedState, -1,
                DetectionSettings.Seconds(own), Ongoing: true, hungStack, frame.Record));
        }
    }

    /// <summary>
    /// At process exit (or when debug mode is switched off): a step whose method completed runs its awaiters'
    /// continuations inline, and the last of them may release Main (or call Disable) before the runtime raises
    /// the step's end event. Report every open step past
    /// the threshold now (its own time ends where the frame nested in it began); its end will not report again.
    /// Then wait for findings other threads are still building.
    /// </summary>
    public void FlushOpenSteps(long now)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            var depth = tracker.Depth;
            // A prelude still open at exit: Main ran to its end without ever waiting.
            if (depth > 0 && tracker.FrameAt(0) is { Kind: FrameKind.Prelude } prelude)
                OnPreludeEnd(tracker, prelude, null, tracker.FrameAt(1)?.Start ?? now);
            for (var i = 0; i < depth; i++)
            {
                if (tracker.FrameAt(i) is not { Kind: FrameKind.AsyncStep, Task: { } task, Box: { } box } frame || (frame.Version & 1) == 0)
                    continue;
                var own = OwnTime(frame, tracker.FrameAt(i + 1)?.Start ?? now);
                if (own >= settings.SlowTicks)
                    own -= Preempted(frame, RunQueue.Delay(tracker.OsThreadId));
                if (own - NotItsOwn(frame, tracker.FrameAt(i + 1)?.Start ?? now) < settings.SlowTicks || !frame.TryClaimSlowReport())
                    continue;
                var stack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
                sink.Add(new StepFinding(frame.TaskId, time.GetUtcNow(), tracker.ThreadId, box.StateMachineType, frame.ResumedState,
                    StoppedState(frame, task, box), DetectionSettings.Seconds(own), Ongoing: false, stack, frame.Record) { FirstSteps = FirstSteps(frame) });
            }
        }
        for (var waited = 0; Volatile.Read(ref _inFlight) > 0 && waited < 500; waited++)
            Thread.Sleep(1);
    }

    // The user's async methods whose first step ran inside this one: the boxes created in it, in order (the
    // records of one step are linked until a nested step intervenes), each with the state it parked in. Tasks and
    // states are read before anything slower: these methods go on on other threads, and leave the registry as they
    // complete (who awaits whom is in their records).
    private List<FirstStep> FirstSteps(Frame frame)
    {
        var created = new List<(TaskRecord Record, Task Task, int State, long Gap)>();
        var previous = frame.Start;
        for (var record = frame.FirstCreated; record is not null; record = record.NextSibling)
        {
            if (record.Origin == TaskOrigin.AsyncMethod && findTask(record.Id) is { } task)
                created.Add((record, task, BoxInfo.ReadStateOnce(task), record.Created - previous));
            previous = record.Created;
        }
        var found = new List<FirstStep>(created.Count);
        foreach (var (record, task, state, gap) in created)
        {
            if (BoxInfo.Of(task) is { } box && Symbols.CodeOrigin.IsUserCode(box.StateMachineType.Assembly))
                found.Add(new FirstStep(record, task, box, state, gap));
        }
        return found;
    }

    // Noted as it happened if the step parked on a task or completed; otherwise (Task.Yield, custom awaiters) the
    // box's state now, unless another thread already took it further (running: -1; completed: cleared to 0).
    private static int StoppedState(Frame frame, Task task, BoxInfo box)
    {
        if (frame.StoppedState != BoxInfo.UnknownState)
            return frame.StoppedState;
        var state = box.ReadState(task);
        return state >= 0 && !task.IsCompleted ? state : BoxInfo.UnknownState;
    }

    // A framework method's step (Kestrel's request loop, say) in the process's first seconds runs code being loaded
    // and compiled on several threads at once, and waits for the others' type loading and compilation: measured on
    // the first requests of an ASP.NET service, 190-220 ms steps with no wait for a CPU, a fifth of them compilation.
    // Such a step is reported only if it ran a method of the user's that blocked (see StepFinding.WarmUp). It counts
    // as warming up when the process compiled code for a tenth of its time or more; steps of the user's own methods
    // are judged as always.
    private static bool WarmingUp(Frame frame, BoxInfo box, long now) =>
        !box.IsUserCode && frame.ProcessJitStart != 0 && (RuntimeTime.JitInProcess - frame.ProcessJitStart) * 10 >= now - frame.Start;

    // Time in the step that stopped every thread, the step's with them: GC pauses and process stalls. It decides
    // whether the step counts as slow, and is not taken off the duration reported.
    private long NotItsOwn(Frame frame, long end) => RuntimeTime.GcSince(frame) + stalls.During(frame.Start, end);

    // Time the step's thread waited for a CPU since the step began (0 where that is not known).
    private static long Preempted(Frame frame, long runDelayNow) =>
        frame.RunDelayStart < 0 || runDelayNow < 0 ? 0 : Math.Max(0, runDelayNow - frame.RunDelayStart);

    // Wall time of the step, less nested async steps and reported blocking waits (JIT time, known only on the
    // step's own thread, and run-queue delay, worth reading only for long steps, are taken off separately).
    private static long OwnTime(Frame frame, long end) =>
        end - frame.Start - frame.ChildTicks - Volatile.Read(ref frame.ExcludedTicks);

    private static Frame? InnermostStep(ThreadTracker tracker)
    {
        for (var i = tracker.Depth - 1; i >= 0; i--)
        {
            if (tracker.FrameAt(i) is { Kind: FrameKind.AsyncStep } frame)
                return frame;
        }
        return null;
    }
}
