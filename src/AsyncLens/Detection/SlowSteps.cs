using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// slow-step: one step of an async method (a MoveNext between two awaits) held its thread for at
/// least the threshold. Its own time is measured from the runtime's TraceSynchronousWork events, minus
/// the steps of other async methods that ran inline inside it, blocking waits reported on their own,
/// JIT compilation on its thread and (Linux) time its thread waited for a CPU; and it must be slow even
/// without the GC pauses and process stalls (<see cref="Stalls"/>) that happened meanwhile. The boxes the
/// step created go with the finding (<see cref="FirstStep"/>): the report may name the method whose first
/// step the time went to (<see cref="StretchLocator"/>).
/// hung-step: the watchdog sees a step still running past the hung threshold, and says so once.
/// </summary>
internal sealed partial class SlowSteps(DetectionSettings settings, IFindingSink sink, TimeProvider time, Func<int, Task?> findTask, Stalls stalls)
{
    // Slow-step findings being built on app threads: process exit waits for them.
    private int _inFlight;

    /// <summary>Called on the app thread as a step ends, while its frame is still on the thread's stack.</summary>
    public void OnStepEnd(ThreadTracker tracker, Frame frame, long now)
    {
        if (frame is { Kind: FrameKind.AsyncStep, Box: null, Record.Origin: TaskOrigin.RuntimeAsync })
        {
            OnRuntimeAsyncStepEnd(tracker, frame, now);
            return;
        }
        if (frame.Kind is FrameKind.Delegate or FrameKind.WorkItem)
        {
            OnDelegateEnd(tracker, frame, now);
            return;
        }
        if (frame.Kind != FrameKind.AsyncStep || frame.Box is not { } box || frame.Task is not { } task)
            return;
        var own = OwnTime(tracker, frame, now);
        if (own < settings.SlowTicks)
            return;
        var ownJit = RuntimeTime.JitOnThisThread - frame.JitStart;
        var times = tracker.OwnTimes();
        var preempted = Preempted(frame, times.Waited, now);
        own -= RuntimesShare(own, ownJit, preempted + Stolen(frame, own, preempted, times), OnCpu(frame, times));
        if (own < settings.SlowTicks)
            return;
        Interlocked.Increment(ref _inFlight);
        try
        {
            // Read before waiting for the watchdog: the methods this step started go on elsewhere, and may complete; and
            // the GC pauses counted in the split must be those up to the step's end, not the wait's.
            var stopped = StoppedState(frame, task, box);
            var firstSteps = FirstSteps(frame);
            var split = Split(tracker, frame, now, times);
            stalls.CatchUp(now);
            // A step that never gave its CPU up was judged on its time on a CPU (its waits for one and what was taken from
            // it are off already): the stalls every thread had meanwhile are in that, not to be taken off twice (a
            // hypervisor's steal seen by the watchdog too: 0.25 s of CPU judged under 0.1 s at load 30). A GC would have
            // blocked it.
            var slack = own - (NeverSwitched(frame, times) ? 0 : NotItsOwn(frame, now)) - settings.SlowTicks;
            if (slack < 0 || !frame.TryClaimSlowReport())
                return;
            var stack = frame.Captured is { } captured && captured.FrameVersion == frame.Version
                ? captured.Stack
                : RawAsyncStack.Capture(task, frame.ResumedState);
            var evidence = new StretchEvidence(box.StateMachineType, frame.ResumedState, stopped, DetectionSettings.Seconds(own), Ongoing: false)
            {
                FirstSteps = firstSteps,
                WarmUp = CompiledMuch(frame, now),
                ProcessJitTicks = frame.ProcessJitStart != 0 ? RuntimeTime.JitInProcess - frame.ProcessJitStart : 0,
                FromTicks = frame.Start,
                ToTicks = now,
                SlackTicks = slack,
            };
            sink.Add(Finding(tracker, frame.TaskId, stack, frame.Record, evidence, frame, split, now));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>Watchdog tick: read the parents of long steps while they still exist; report hung ones.</summary>
    public void Tick(long now)
    {
        TickEvents(now);
        foreach (var tracker in ThreadTracker.All)
        {
            var frame = InnermostStep(tracker);
            if (frame is null)
                continue;
            if (frame.Kind == FrameKind.Request)
            {
                TickRequest(tracker, frame, now);
                continue;
            }
            var version = frame.Version;
            var task = frame.Task;
            var box = frame.Box;
            if ((version & 1) == 0 || task is null || box is null)
                continue;
            var own = OwnTime(tracker, frame, now);
            if (own < settings.SlowTicks / 2)
                continue;
            var times = RunQueue.Times(tracker.OsThreadId);
            own -= Preempted(frame, times.Waited, now);
            if (own >= settings.SlowTicks / 2 && frame.Captured is null)
            {
                var stack = RawAsyncStack.Capture(task, frame.ResumedState);
                var held = HeldHandler(frame);
                if (frame.Version == version)
                    frame.Captured = new CapturedStack(version, stack, held);
            }
            if (own < settings.HungTicks || frame.HungReported || tracker.Wait is { IsOpen: true }
                || own - NotItsOwn(frame, now) < settings.HungTicks)
                continue;
            var hungStack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
            if (frame.Version != version)
                continue;
            var evidence = new StretchEvidence(box.StateMachineType, frame.ResumedState, -1, DetectionSettings.Seconds(own), Ongoing: true)
            {
                ProcessJitTicks = RuntimeTime.JitInProcess - frame.ProcessJitStart,
                FromTicks = frame.Start,
                ToTicks = now,
            };
            var hung = Finding(tracker, frame.TaskId, hungStack, frame.Record, evidence, frame, Split(tracker, frame, now, times), now);
            if (!HungNow(hung.Evidence, EngineCompilation.During(frame.Start, now)))
                continue;
            frame.HungReported = true;
            sink.Add(hung);
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
            if (depth > 0 && tracker.FrameAt(0) is { Kind: FrameKind.Prelude } prelude && !PreludeEndedAtParks(tracker, prelude, now))
                OnPreludeEnd(tracker, prelude, null, tracker.FrameAt(1)?.Start ?? now);
            for (var i = 0; i < depth; i++)
            {
                if (tracker.FrameAt(i) is not { Kind: FrameKind.AsyncStep, Task: { } task, Box: { } box } frame || (frame.Version & 1) == 0)
                    continue;
                var end = tracker.FrameAt(i + 1)?.Start ?? now;
                var own = OwnTime(tracker, frame, end);
                var times = own >= settings.SlowTicks ? RunQueue.Times(tracker.OsThreadId) : SchedTimes.Unavailable;
                own -= Preempted(frame, times.Waited, end);
                if (own - NotItsOwn(frame, end) < settings.SlowTicks || !frame.TryClaimSlowReport())
                    continue;
                var stack = frame.Captured?.Stack ?? RawAsyncStack.Capture(task, frame.ResumedState);
                var evidence = new StretchEvidence(box.StateMachineType, frame.ResumedState, StoppedState(frame, task, box), DetectionSettings.Seconds(own), Ongoing: false)
                {
                    FirstSteps = FirstSteps(frame),
                };
                sink.Add(Finding(tracker, frame.TaskId, stack, frame.Record, evidence, frame, Split(tracker, frame, end, times), end));
            }
        }
        for (var waited = 0; Volatile.Read(ref _inFlight) > 0 && waited < 500; waited++)
            Thread.Sleep(1);
    }

    // How a stretch's own time split between a CPU and being blocked: its thread's time on a CPU since it began (less
    // the nested frames' time, counted as CPU), against its wall time less nested frames, waits reported on their own,
    // time waiting for a CPU and GC pauses. Compiling (JIT) is computing here: it is measured in wall time, its own
    // waits for a CPU in it, and taking it off would count them twice. A thread that never gave its CPU up was not
    // blocked: what its figures do not explain was taken from it (a hypervisor's steal, throttling).
    private static TimeSplit Split(ThreadTracker tracker, Frame frame, long end, SchedTimes now)
    {
        if (frame.CpuStart < 0 || now.OnCpu < 0)
            return TimeSplit.Unknown;
        var wall = Math.Max(0, OwnTime(tracker, frame, end));
        var onCpu = Math.Clamp(now.OnCpu - frame.CpuStart - frame.ChildTicks, 0, wall);
        if (NeverSwitched(frame, now))
            return new TimeSplit(Math.Max(1, wall - Math.Clamp(now.Waited - frame.WaitedStart, 0, wall)), 0);
        var waited = frame.WaitedStart >= 0 && now.Waited >= 0 ? now.Waited - frame.WaitedStart : 0;
        return new TimeSplit(onCpu, Math.Max(0, wall - onCpu - waited - RuntimeTime.GcSince(frame)));
    }

    // Noted as it happened if the step parked on a task or completed; otherwise (Task.Yield, custom awaiters) the
    // box's state now, unless another thread already took it further (running: -1; completed: cleared to 0).
    private static int StoppedState(Frame frame, Task task, BoxInfo box)
    {
        if (frame.StoppedState != AsyncState.Unknown)
            return frame.StoppedState;
        var state = box.ReadState(task);
        return AsyncState.IsParked(state) && !task.IsCompleted ? state : AsyncState.Unknown;
    }

    // A request still running past the hung threshold, for the most part in the handler its endpoint matched: reported
    // while it runs, once, as that handler's (it has no task or box of its own to stand for it).
    private void TickRequest(ThreadTracker tracker, Frame frame, long now)
    {
        var version = frame.Version;
        var own = OwnTime(tracker, frame, now);
        if ((version & 1) == 0 || frame.HungReported || own < settings.HungTicks || tracker.Wait is { IsOpen: true } || HandlerTicks(frame, now) * 2 < own)
            return;
        var times = RunQueue.Times(tracker.OsThreadId);
        own -= Preempted(frame, times.Waited, now);
        if (own - NotItsOwn(frame, now) < settings.HungTicks || frame.Version != version)
            return;
        frame.HungReported = true;
        var evidence = new StretchEvidence(null, -1, -1, DetectionSettings.Seconds(own), Ongoing: true)
        {
            FirstSteps = FirstSteps(frame),
            Unbracketed = true,
        };
        sink.Add(Finding(tracker, 0, StackBelow(tracker, frame), null, evidence, frame, Split(tracker, frame, now, times), now));
    }

    // A step in the process's first seconds runs code being loaded and compiled on several threads at once, and waits
    // for the others' type loading and compilation: measured on the first requests of an ASP.NET service, 190-220 ms
    // steps of Kestrel's request loop with no wait for a CPU, a fifth of them compilation; and 150-500 ms steps of a
    // handler whose time went to the first run of a database client's code (Npgsql opening its first connections,
    // Dapper building its readers). Such a step is reported only for a cause in the app's own code (see
    // StretchEvidence.WarmUp). It counts as warming up when its own thread compiled code for a tenth of its time or
    // more; or when the process did, AsyncLens's own compiling taken off, unless the step's own time went mostly to
    // computing (StretchEvidence.Judged, on the reporter thread).
    private static bool CompiledMuch(Frame frame, long end) => (RuntimeTime.JitOnThisThread - frame.JitStart) * 10 >= end - frame.Start;

    // A step past the hung threshold is judged as its end would be: while the process warms up (StretchEvidence.Judged:
    // it compiled code for a tenth of the stretch so far), only where a cause in the app's own code is named
    // (StretchLocator, measured as AsyncLens's own compiling). Else it is not reported yet, and judged again at the next
    // tick: a hang goes on compiling nothing, so the process's share falls under a tenth and the hang is reported then.
    // Measured on DbWorker count-sync under three CPU burners: every await of the scenario completed at once (the server
    // answered before the client read), so Main's step after its first await ran all of it, 1.18 s with 0.29 s compiled
    // by the process; its slow-step was judged warm-up and dropped, its hung-step at 1 s named nothing at Main's await.
    internal static bool HungNow(StretchEvidence ongoing, long engineJitTicks) =>
        ongoing.Judged(engineJitTicks) is not { WarmUp: true } warming || EngineCompilation.Measure(() => StretchLocator.Locate(warming)) is not null;

    // Time in the step that stopped every thread, the step's with them: the runtime's suspensions (GCs) and process
    // stalls. It decides whether the step counts as slow, and is not taken off the duration reported.
    private long NotItsOwn(Frame frame, long end) => stalls.During(frame.Start, end, RuntimeTime.GcSince(frame));

    // The part of a stretch of `own` time that was the runtime's or the machine's: the time its thread waited for a CPU,
    // and the compilation on it. Compilation is timed on the wall clock, waits for a CPU included: it is taken to have
    // waited as often as the rest of the stretch did while it could run (its time on a CPU, `onCpu`, where known; else
    // its whole time), so that no wait counts twice. (Shared out over the whole time, a stretch that slept 300 ms after
    // its startup code compiled at load 4 was judged 0.278 s: the sleep never waits for a CPU, the compilation did.)
    internal static long RuntimesShare(long own, long jit, long preempted, long onCpu = -1)
    {
        var running = onCpu >= 0 && onCpu + preempted > 0 ? (double)onCpu / (onCpu + preempted)
            : own <= 0 ? 0 : (double)(own - preempted) / own;
        return preempted + (long)(jit * Math.Clamp(running, 0, 1));
    }

    // The stretch's time on a CPU up to `now` (its nested steps' taken off: their wall time less their waits for a CPU
    // where those were read), or -1 where it is not known.
    internal static long OnCpu(Frame frame, SchedTimes now) =>
        frame.CpuStart < 0 || now.OnCpu < 0 ? -1 : Math.Max(0, now.OnCpu - frame.CpuStart - (frame.ChildTicks - frame.ChildWaited));

    // Time taken from a step that never gave its CPU up: what neither its time on a CPU nor its waits for one explain,
    // when its thread made no voluntary switch (it was never blocked, and a GC would have blocked it), was taken from it
    // by the machine: a hypervisor running another guest on its virtual CPU (steal time, which Linux leaves out of
    // both), or throttling. Measured on two cores at load 25: a step creating 10,000 tasks, 440 ms of wall time, 10 ms
    // on a CPU, no wait for one and no switch. Such time is the machine's, like a wait for a CPU.
    private static long Stolen(Frame frame, long own, long preempted, SchedTimes now)
    {
        if (!NeverSwitched(frame, now))
            return 0;
        var onCpu = OnCpu(frame, now);
        return Math.Max(0, own - onCpu - preempted - RuntimeTime.GcSince(frame));
    }

    // The step's thread made no voluntary switch since it began (it was never blocked), and its time on a CPU is known.
    private static bool NeverSwitched(Frame frame, SchedTimes now) =>
        frame.SwitchesStart >= 0 && now.Switches == frame.SwitchesStart && frame.CpuStart >= 0 && now.OnCpu >= 0;

    // Time the step's thread waited for a CPU since the step began, up to `end` (0 where that is not known). The waits
    // are read for the whole interval, nested steps included, whose time is taken off whole: only the step's share of
    // the waits is its own. Those of nested steps of a millisecond or more were read at their end (Frame.ChildWaited);
    // the rest are taken to have come as often in the shorter nested steps as in the step's own time. (Shared in
    // proportion to the time alone, a 250 ms computation followed inline by a step preempted three times as often
    // was judged 70 ms at load 30.)
    internal static long Preempted(Frame frame, long runDelayNow, long end)
    {
        if (frame.WaitedStart < 0 || runDelayNow < 0)
            return 0;
        var waited = Math.Max(0, runDelayNow - frame.WaitedStart - frame.ChildWaited);
        var wall = end - frame.Start - frame.ChildTicksMeasured;
        var unmeasured = frame.ChildTicks - frame.ChildTicksMeasured;
        return unmeasured <= 0 || wall <= 0 ? waited : (long)(waited * Math.Clamp((double)(wall - unmeasured) / wall, 0, 1));
    }

    // Wall time of the step, less nested async steps, reported blocking waits and AsyncLens's own time on the thread
    // (JIT time, known only on the step's own thread, and run-queue delay, worth reading only for long steps, are
    // taken off separately).
    // A step whose method completed ends there: the rest hands the result to its awaiters (see Frame.CompletedAt).
    internal static long OwnTime(ThreadTracker tracker, Frame frame, long end)
    {
        var (until, nested) = frame.CompletedAt is var completed and > 0 && completed < end
            ? (completed, frame.ChildTicksAtCompletion)
            : (end, frame.ChildTicks);
        return until - frame.Start - nested - Volatile.Read(ref frame.ExcludedTicks) - tracker.EngineTicks(frame);
    }
}
