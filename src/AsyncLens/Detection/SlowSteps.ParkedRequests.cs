using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Detection;

/// <summary>
/// On .NET 11's async events alone (<see cref="StepSourceKind.AsyncEventsOnly"/>): the start of a request or of a message
/// or job handler run outside any step (<see cref="FrameKind.Request"/>) whose handler parked, its frame ending unjudged
/// (it stands for nothing once its work item is over; the framework ran another handler on the thread). The TPL path
/// judges such a stretch up to each box it created (<see cref="OnRequestStretch"/>): where the handler's first step, run
/// inline, ended at its first await that parked. Here no event says so on the thread at the time; the async events do,
/// later: each box that parks there creates a state-machine context, on that thread, at the park, and that context's first
/// resume names the box's method and the await it parked at. So the stretch is held until its thread's events have been
/// delivered, then judged up to each of those parks in turn, as the TPL path judges it up to each box.
/// </summary>
internal sealed partial class SlowSteps
{
    // A held stretch is judged once its thread's buffers (delivered when the thread is idle for 250 ms, or flushed) and the
    // first resumes of the contexts it created have had time to come; given up on if its thread's events never say.
    private static readonly long ParkedSettleTicks = TimeSpan.TicksPerSecond / 4;
    private static readonly long ParkedGiveUpTicks = 2 * TimeSpan.TicksPerSecond;

    // Each held stretch is at least the slow threshold long: a bound, not a working size.
    private const int MaxParked = 256;

    private readonly List<ParkedStretch> _parked = [];
    private readonly List<(ulong Context, long At)> _created = [];

    // A stretch from its frame's start to Until, of the handler an endpoint or a framework's activity named at EndpointAt
    // (none: a run entered outside any step, SlowSteps.EnteredRuns.cs).
    // Bounded: its run on the thread ended at Until, or within two ticks before; else only somewhere before (the watchdog
    // did not see it stand lately: busy, or the stretch short), and only its thread's first park in it is sure to be its own.
    // ThreadJit: what its thread compiled from its start to when the thread took it off (-1 until then), an upper bound of
    // its own compilation, as the TPL path reads it; else the process's is what may not count as its own time.
    private sealed record ParkedStretch(ThreadTracker Tracker, long Start, long Until, bool Bounded, object? Endpoint, long EndpointAt)
    {
        public long ThreadJit { get; set; } = -1;

        /// <summary>A run entered outside any step that was a delegate task's: the delegate's method (SlowSteps.EnteredRuns.cs).</summary>
        public System.Reflection.MethodInfo? Delegate { get; init; }

        /// <summary>A run entered outside any step that ended on its thread: the thread's scheduler figures at its bounds.</summary>
        public (SchedTimes Start, SchedTimes End)? Times { get; init; }
    }

    /// <summary>
    /// A request frame is taken off its thread without ending there (on its own thread): because it stands for nothing any
    /// more (<paramref name="standsForNothing"/>: its run ended after the watchdog last saw it stand), or because another
    /// request or handler begins there now. On the async events, its run is not the time of the framework's step that
    /// ran it (delivered later); on them alone, it is held to be judged when it lasted the slow threshold.
    /// </summary>
    public void OnRequestDropped(ThreadTracker tracker, Frame frame, long now, bool standsForNothing)
    {
        if (Events is null || frame.Kind != FrameKind.Request)
            return;
        var (until, bounded) = standsForNothing ? EndedAfter(frame.Start, frame.SeenStandingAt, now) : (now, true);
        // Its run lasted at least to the last box it created (with the TPL events beside), where not known better: else
        // the framework's step that ran it was judged with its time in it, and reported as its first step a second time.
        if (bounded || frame.LastCreation > frame.Start)
            tracker.Notes.AddApart(frame.Start, bounded ? until : frame.LastCreation, request: true);
        if (!EventsAlone || frame.Endpoint is not { } endpoint || until - frame.Start < settings.SlowTicks)
            return;
        var threadJit = RuntimeTime.JitOnThisThread - frame.JitStart;
        if (frame.TryClaimSlowReport())
            Hold(tracker, frame.Start, until, bounded, endpoint, frame.EndpointAt, threadJit);
        else
        {
            // Held by the watchdog already: its thread's compilation is known now.
            lock (_parked)
            {
                if (_parked.Find(p => p.Tracker == tracker && p.Start == frame.Start) is { } held)
                    held.ThreadJit = threadJit;
            }
        }
    }

    // Where a run that stands for nothing at `now` ended: after the watchdog last saw it stand (or its start). That was
    // lately, the watchdog ticking on time: bounded; else (the watchdog was held up) only somewhere before now.
    private (long Until, bool Bounded) EndedAfter(long start, long seenStanding, long now) =>
        (now, now - Math.Max(seenStanding, start) <= 2 * settings.TickPeriod.Ticks);

    // Watchdog tick, on the async events: a request frame still standing is marked so; on them alone, one whose work item
    // is over (its thread idle since, raising no event to take it off) is held from here, its run having ended since the
    // last tick.
    private void WatchRequestFrames(long now)
    {
        foreach (var tracker in ThreadTracker.All)
        {
            if (tracker.Top is not { Kind: FrameKind.Request } frame || frame.Version is var version && (version & 1) == 0)
                continue;
            if (!tracker.StandsForNothing(frame))
            {
                frame.SeenStandingAt = now;
                continue;
            }
            // Held here only once its work item is over: a handler that ended on this thread (its activity stopped) is
            // being judged by this thread now (held here too, Backoffice's synchronous ThumbnailConsumer lost a report in
            // 4 runs of 6 at load 10-18: its thread found the report claimed).
            if (!EventsAlone || !tracker.WorkItemOver(frame))
                continue;
            var (start, seen, endpoint, endpointAt) = (frame.Start, frame.SeenStandingAt, frame.Endpoint, frame.EndpointAt);
            var (until, bounded) = EndedAfter(start, seen, now);
            if (endpoint is not null && until - start >= settings.SlowTicks && !frame.SlowReported && frame.TryClaimSlowReport(version))
                Hold(tracker, start, until, bounded, endpoint, endpointAt);
        }
    }

    private void Hold(ThreadTracker tracker, long start, long until, bool bounded, object? endpoint, long endpointAt, long threadJit = -1,
        System.Reflection.MethodInfo? runDelegate = null, (SchedTimes, SchedTimes)? times = null)
    {
        if (bounded && endpoint is not null)
            tracker.Notes.AddApart(start, until, request: true);
        lock (_parked)
        {
            if (_parked.Count < MaxParked)
                _parked.Add(new ParkedStretch(tracker, start, until, bounded, endpoint, endpointAt) { ThreadJit = threadJit, Delegate = runDelegate, Times = times });
            Events?.KeepResumes(true);
        }
    }

    // Whether a held stretch is due to be judged: its thread's buffers are then flushed first.
    private bool ParkedDue(long now)
    {
        lock (_parked)
            return _parked.Exists(p => now - p.Until >= ParkedSettleTicks);
    }

    // The held stretches that are due (all of them at exit), each judged once its thread's events tell where it parked.
    private void JudgeParked(EventSteps events, long now, bool all)
    {
        ParkedStretch[] due;
        lock (_parked)
            due = [.. _parked.Where(p => all || now - p.Until >= ParkedSettleTicks)];
        foreach (var parked in due)
        {
            if (!JudgeParked(events, parked, final: all || now - parked.Until >= ParkedGiveUpTicks))
                continue;
            lock (_parked)
            {
                _parked.Remove(parked);
                if (_parked.Count == 0)
                    events.KeepResumes(false);
            }
        }
    }

    // The stretch up to each park of its thread in it, in turn, as the TPL path's up to each box: the first of those spans
    // slow enough is judged (and that box, after a gap of at least half of it, is the first step reported; else the
    // handler's); none, and it is not reported. False, unless `final`, while its thread's events say nothing of it yet,
    // or a box that parked in the span it judges has not been seen resumed (its method and await are not known yet).
    private bool JudgeParked(EventSteps events, ParkedStretch parked, bool final)
    {
        var osThreadId = (ulong)parked.Tracker.OsThreadId;
        _created.Clear();
        if (!events.ContextsCreated(osThreadId, parked.Start, parked.Until, _created, outsideOnly: parked.Endpoint is null))
            return true; // more parks than the ring keeps: where its first step ended is not known
        // A run entered outside any step that parked nothing there, its thread's buffers flushed (ParkedDue): a resumed step.
        if (_created.Count == 0)
            return final || parked.Endpoint is null;
        if (parked.Endpoint is null)
            return JudgeEnteredRun(events, parked, final);
        var firstSteps = new List<FirstStep>();
        var previous = parked.Start;
        var allResumed = true;
        foreach (var (context, at) in _created)
        {
            if (!events.FirstResume(context, at, out var method, out var state))
                allResumed = false;
            else if (EventSteps.StateMachineOf(method) is { } stateMachine && Symbols.CodeOrigin.IsUserCode(stateMachine.Assembly))
                firstSteps.Add(new FirstStep(null, stateMachine, state, at - previous));
            previous = at;
            if (!parked.Bounded && at != _created[0].At)
                break;
            if (!parked.Bounded)
                parked.Tracker.Notes.AddApart(parked.Start, at, request: true); // its run on the thread: up to its first park, at least
            var step = new AsyncStep(osThreadId, 0, 0, -1, parked.Start, at, AsyncStepEnd.Left);
            if (EventStepTime(step, parked.Tracker, frameworks: false, parked.ThreadJit) is not var (own, split, processJit))
                continue;
            if (!allResumed && !final)
                return false;
            var handler = RequestEndpoints.HandlerOf(parked.Endpoint);
            var handlerTicks = at - parked.EndpointAt;
            var first = GapFirstStep(firstSteps, own);
            if (first is null && (handler is null || handlerTicks * 2 < own))
                continue;
            var evidence = RequestEvidence(first, [.. firstSteps], own) with
            {
                // Warming up, as the TPL path judges a request's stretch, where its thread's compilation is known.
                WarmUp = parked.ThreadJit >= 0 && parked.ThreadJit * 10 >= at - parked.Start,
                ProcessJitTicks = parked.ThreadJit >= 0 ? 0 : processJit,
                FromTicks = parked.Start,
                ToTicks = at,
                Time = split,
                OsThreadId = parked.Tracker.OsThreadId,
                Handler = handler is null ? null : new HandlerRun(handler, handlerTicks),
            };
            var stack = first is not null && BoxInfo.OfStateMachine(first.StateMachine) is { } box
                ? RawAsyncStack.Of([new RawFrame(0, box, first.State, null, null)])
                : RawAsyncStack.Empty;
            sink.Add(new StepFinding(0, time.GetUtcNow(), parked.Tracker.ThreadId, stack, null, evidence));
            return true;
        }
        return true;
    }
}
