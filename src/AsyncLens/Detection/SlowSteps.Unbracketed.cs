using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Detection;

/// <summary>
/// Stretches no step brackets, judged from frames that stand in for one (see <see cref="FrameKind.Prelude"/>,
/// <see cref="FrameKind.Request"/>): async Main's first step, and the start of an ASP.NET Core request that began
/// outside any step. They are reported as the first step of a method of the user's (<see cref="StretchEvidence.Unbracketed"/>).
/// </summary>
internal sealed partial class SlowSteps
{
    /// <summary>
    /// The prelude ends on its own thread: the thread blocks on <paramref name="waited"/> (async Main's entry point
    /// waiting for Main), or the process exits with it still open (<paramref name="waited"/> null: Main ended without
    /// ever waiting, or, on the async events alone, <paramref name="parks"/> says where it ended). Judged as Main's first
    /// step: the waited method's, if it is the user's, else the entry point's.
    /// </summary>
    public void OnPreludeEnd(ThreadTracker tracker, Frame frame, Task? waited, long now, PreludeParks? parks = null)
    {
        if (frame.Kind != FrameKind.Prelude || OwnTime(tracker, frame, now) < settings.SlowTicks)
            return;
        // Read first: Main (and the methods it started) go on on other threads, and may resume or complete.
        var stopped = parks?.MainState ?? (waited is null ? AsyncState.Done : BoxInfo.ReadStateOnce(waited) is var parked && AsyncState.IsParked(parked) ? parked : AsyncState.Unknown);
        var firstSteps = parks?.FirstSteps ?? FirstSteps(frame);
        var mainBox = waited is null ? null : BoxInfo.Of(waited);
        stalls.CatchUp(now);
        // At exit (another thread), all the process's compilation since it began is taken off: more than its own.
        var onItsThread = tracker.Thread == Thread.CurrentThread;
        // Judged at the exit from its parks (on the async events alone), what compiled is the process's while it ran, from
        // the watchdog's samples, AsyncLens's own taken off, as for the events' steps: the exit runs on another thread, and
        // the process's compilation up to then took a 0.3 s sleep for 0.22-0.27 s at load 12-19.
        var jit = parks is not null ? Math.Max(0, ProcessJitWithin(frame.Start, now) - EngineCompilation.During(frame.Start, now))
            : onItsThread ? RuntimeTime.JitOnThisThread - frame.JitStart : RuntimeTime.JitInProcess - frame.ProcessJitStart;
        var times = onItsThread ? tracker.OwnTimes() : RunQueue.Times(tracker.OsThreadId);
        var wall = OwnTime(tracker, frame, now);
        var own = wall - RuntimesShare(wall, jit, Preempted(frame, times.Waited, now), OnCpu(frame, times));
        if (own - NotItsOwn(frame, now) < settings.SlowTicks || !frame.TryClaimSlowReport())
            return;
        Type? stateMachine;
        var stack = RawAsyncStack.Empty;
        if (waited is null)
        {
            stateMachine = EntryPointStateMachine();
            stack = parks?.Stack ?? stack;
        }
        else if (mainBox is not null)
        {
            stateMachine = mainBox.StateMachineType;
            stack = RawAsyncStack.Capture(waited, -1);
        }
        else
            return;
        if (stateMachine is null || !Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
            return;
        var evidence = new StretchEvidence(stateMachine, -1, stopped, DetectionSettings.Seconds(own), Ongoing: false) { FirstSteps = firstSteps, Unbracketed = true };
        sink.Add(Finding(tracker, waited?.Id ?? 0, stack, null, evidence, frame, Split(tracker, frame, now, times), now));
    }

    /// <summary>
    /// At exit, on the async events alone: the prelude is still open, for no wait event said its thread blocked on Main
    /// (judged open, a run's whole length was taken for Main's first step: 3-9 s in the benchmark harness, reported where
    /// the method Main first awaited named a blocking call). Its thread's parks say where it ended: each box that parked
    /// in it created a context on its thread; the first resume of each (watched from the start:
    /// <see cref="EventSteps.WatchContextsCreatedOn"/>) names the box and its await, and the methods awaiting it. The
    /// first one whose chain holds Main is where Main parked (its own box, or the method it awaited), and its thread
    /// blocked on Main right after; failing that (Main's chain never resumed), its thread's last park. Judged up to
    /// there as the TPL path judges it up to that wait. False when its thread parked nothing in it (Main ran to its end
    /// without waiting): judged to the end.
    /// </summary>
    private bool PreludeEndedAtParks(ThreadTracker tracker, Frame frame, long now)
    {
        if (!EventsAlone || Events is not { } events)
            return false;
        var created = new List<(ulong Context, long At)>();
        events.ContextsCreated((ulong)tracker.OsThreadId, frame.Start, now, created);
        if (created.Count == 0)
            return false;
        var main = EntryPointStateMachine();
        var firstSteps = new List<FirstStep>();
        var previous = frame.Start;
        var parks = new PreludeParks(firstSteps, AsyncState.Unknown, RawAsyncStack.Empty);
        var end = created[^1].At;
        foreach (var (context, at) in created)
        {
            end = at;
            if (!events.FirstResumeStack(context, at, out var methods, out var states))
            {
                previous = at;
                continue;
            }
            if (EventSteps.StateMachineOf(methods[0]) is { } stateMachine && Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
                firstSteps.Add(new FirstStep(null, stateMachine, states[0], at - previous));
            previous = at;
            var mainAt = main is null ? -1 : Array.FindIndex(methods, id => EventSteps.StateMachineOf(id) == main);
            if (mainAt >= 0)
            {
                parks = parks with { MainState = states[mainAt], Stack = StackOf(methods, states) };
                break;
            }
        }
        OnPreludeEnd(tracker, frame, null, end, parks);
        return true;
    }

    /// <summary>
    /// A request stretch (see <see cref="FrameKind.Request"/>) up to <paramref name="end"/>, its last task creation or
    /// the request's end: slow, it is reported as the first step of the user's async method whose box it created
    /// after a gap of at least half its time (what ran before that method's first await), if that first step names a
    /// blocking call; or, when the endpoint it matched held at least half its time, as its handler's first step.
    /// Not <paramref name="final"/> (judged at a creation, its run going on), it waits for a box of the app's when
    /// the box after its gap is not one (below).
    /// </summary>
    public void OnRequestStretch(ThreadTracker tracker, Frame frame, long end, bool final = true)
    {
        if (frame.Kind != FrameKind.Request || frame.SlowReported || OwnTime(tracker, frame, end) < settings.SlowTicks)
            return;
        var firstSteps = FirstSteps(frame);
        var times = tracker.OwnTimes();
        var wall = OwnTime(tracker, frame, end);
        var own = wall - RuntimesShare(wall, RuntimeTime.JitOnThisThread - frame.JitStart, Preempted(frame, times.Waited, end), OnCpu(frame, times));
        stalls.CatchUp(end);
        if (own - NotItsOwn(frame, end) < settings.SlowTicks)
            return;
        var first = GapFirstStep(firstSteps, own);
        // A park makes its chain's boxes innermost first, microseconds apart: judged at its first box (a database
        // client's, after a handler's 1 s hashing loop), the async handler above it had made none yet, and the report
        // said neither where it parked nor what awaited what. Judged again at the next creation, its box among them.
        if (!final && first is not null && AwaitsItsBox(frame, firstSteps, first))
            return;
        var task = first is null ? null : findTask(first.TaskId);
        if ((task is null && HandlerTicks(frame, end) * 2 < own) || !frame.TryClaimSlowReport())
            return;
        var boxed = first is not null && task is not null;
        var evidence = RequestEvidence(boxed ? first : null, firstSteps, own) with { WarmUp = CompiledMuch(frame, end) };
        var split = Split(tracker, frame, end, times);
        sink.Add(boxed
            ? Finding(tracker, first!.TaskId, RawAsyncStack.Capture(task!, first.State), first.Record, evidence, frame, split, end)
            : Finding(tracker, 0, StackBelow(tracker, frame), null, evidence, frame, split, end));
    }

    // Whether the request's handler is an async method of the app's that made no box yet since `first`, the box after
    // the stretch's gap: a park made there makes the handler's too, if it awaited.
    private static bool AwaitsItsBox(Frame frame, List<FirstStep> firstSteps, FirstStep first) =>
        RequestEndpoints.HandlerOf(frame.Endpoint) is { } handler && Symbols.CodeOrigin.Kind(handler.Module.Assembly) == Symbols.CodeKind.User
        && StretchCode.For(handler).Async?.StateMachineType is { } type
        && !firstSteps.Skip(firstSteps.IndexOf(first)).Any(s => StretchLocator.Definition(s.StateMachine) == StretchLocator.Definition(type));

    // The box of the user's async method a request stretch of `own` time created after the longest gap holding at least
    // half of it: the first step it is reported as, from that method's start (what ran before its first await); none, and
    // it is reported as its handler's first step, if the handler held at least half of it.
    private static FirstStep? GapFirstStep(List<FirstStep> firstSteps, long own) => firstSteps.Where(s => s.GapTicks * 2 >= own).MaxBy(s => s.GapTicks);

    // What a request stretch is judged by: that box's first step, up to the await it parked at; without one, only the
    // handler it ran (below the step that ran it, if any).
    private static StretchEvidence RequestEvidence(FirstStep? boxed, List<FirstStep> firstSteps, long own) =>
        new(boxed?.StateMachine, -1, boxed is not null && AsyncState.IsParked(boxed.State) ? boxed.State : AsyncState.Unknown, DetectionSettings.Seconds(own), Ongoing: false)
        {
            FirstSteps = firstSteps,
            Unbracketed = true,
        };


    // The async stack of the step a request ran in (Kestrel's request loop), if it ran in one.
    private static RawAsyncStack StackBelow(ThreadTracker tracker, Frame frame)
    {
        for (var i = tracker.Depth - 1; i > 0; i--)
        {
            if (tracker.FrameAt(i) == frame && tracker.FrameAt(i - 1) is { Kind: FrameKind.AsyncStep, Task: { } task } step)
                return RawAsyncStack.Capture(task, step.ResumedState);
        }
        return RawAsyncStack.Empty;
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

/// <summary>
/// Where async Main's first step ended, on the async events alone (<c>SlowSteps.PreludeEndedAtParks</c>): the first steps
/// of the boxes that parked in it, the await Main parked at, and Main's chain as it first resumed.
/// </summary>
internal sealed record PreludeParks(List<FirstStep> FirstSteps, int MainState, RawAsyncStack Stack);

