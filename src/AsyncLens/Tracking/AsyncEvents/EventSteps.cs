using System.Diagnostics.Tracing;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// A step at least the threshold long, as debug mode judges it: the step, its callers as its context's stack gave them
/// (innermost first: method ids and the awaits they are parked at) and, when the async events are debug mode's only
/// source, the await it parked at (<see cref="StoppedState"/>, read from the stack the method was next resumed with).
/// </summary>
internal sealed class SlowEventStep(AsyncStep step)
{
    public AsyncStep Step { get; } = step;

    public ulong[] CallerMethods { get; private set; } = [];

    public int[] CallerStates { get; private set; } = [];

    public void SetCallers(ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states) => (CallerMethods, CallerStates) = (methods.ToArray(), states.ToArray());

    /// <summary>The methods it was awaiting when it was resumed again (innermost first) and the awaits they were parked at.</summary>
    public ulong[] CalleeMethods { get; private set; } = [];

    public int[] CalleeStates { get; private set; } = [];

    public void SetCallees(ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states) => (CalleeMethods, CalleeStates) = (methods.ToArray(), states.ToArray());

    /// <summary>The await the step's method parked at (<see cref="AsyncState.Unknown"/> until its next resume says).</summary>
    public int StoppedState { get; set; } = AsyncState.Unknown;

    /// <summary>When the step was handed over (<see cref="Detection.DetectionSettings.Now"/>).</summary>
    public long DeliveredAt { get; init; }

    /// <summary>
    /// A step of a runtime-async context (the BCL's methods on .NET 11: no box, no code to read): the state-machine
    /// contexts it created, oldest first. A box of an async method that parks is wrapped in a new context created from
    /// the running one, at the park; that context's first resume carries the box's <c>MoveNext</c> and the await it
    /// parked at (its first, if its first step ran in this one). Null for a state machine's step.
    /// </summary>
    public AsyncChildContext[]? Children { get; private set; }

    public void SetChildren(AsyncChildContext[] children) => Children = children;

    /// <summary>A runtime-async step with a created context whose first resume is not known yet.</summary>
    public bool AwaitsChildren
    {
        get
        {
            if (Children is not { } children)
                return false;
            lock (children)
                return children.Any(c => !c.Resumed);
        }
    }

    /// <summary>
    /// Context <paramref name="context"/> resumed at <paramref name="resumedAt"/> with this stack: the leaf of a child's
    /// first resume after its creation (an earlier resume than one seen before replaces it). True when it was one.
    /// </summary>
    public bool ChildResumed(ulong context, long resumedAt, ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states)
    {
        if (Children is not { } children || methods.IsEmpty)
            return false;
        var found = false;
        // A delivering thread (its resume seen live) and AsyncLens's own (the remembered stacks) may both look.
        lock (children)
        {
            foreach (var child in children)
            {
                if (child.Context != context || resumedAt < child.CreatedAt || resumedAt >= child.ResumedAt)
                    continue;
                (child.LeafMethod, child.LeafState, child.ResumedAt) = (methods[0], states[0], resumedAt);
                found = true;
            }
        }
        return found;
    }

    /// <summary>
    /// The stack the method was resumed with again has it at <paramref name="at"/> under the same callers (any, when its
    /// own stack had none: they had not awaited it yet when it resumed, and it never completed to have them appended).
    /// </summary>
    public bool ResumedAgainIn(ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states, out int at)
    {
        for (at = 0; at < methods.Length; at++)
        {
            if (methods[at] != Step.MethodId)
                continue;
            if (CallerMethods.Length == 0)
            {
                SetCallers(methods[(at + 1)..], states[(at + 1)..]);
                return true;
            }
            if (methods.Length - at - 1 == CallerMethods.Length && methods[(at + 1)..].SequenceEqual(CallerMethods) && states[(at + 1)..].SequenceEqual(CallerStates))
                return true;
        }
        return false;
    }
}

/// <summary>A state-machine context a runtime-async step created, and, once it resumed, the box it resumed first (its leaf).</summary>
internal sealed class AsyncChildContext(ulong context, long createdAt)
{
    public ulong Context { get; } = context;

    /// <summary>When it was created (DateTime ticks): when the box parked.</summary>
    public long CreatedAt { get; } = createdAt;

    /// <summary>The method id (a <c>MoveNext</c>'s code address) and state of the leaf of its first resume.</summary>
    public ulong LeafMethod;

    public int LeafState = AsyncState.Unknown;

    public long ResumedAt = long.MaxValue;

    public bool Resumed => ResumedAt != long.MaxValue;
}

/// <summary>
/// Debug mode's steps from .NET 11's async events (<see cref="StepSourceKind.AsyncEvents"/>,
/// <see cref="StepSourceKind.AsyncEventsOnly"/>): the source's buffers decoded and assembled into method steps
/// (<see cref="AsyncStepAssembler"/>), and each step that held its thread at least <c>slowTicks</c> handed to
/// <c>onSlow</c> with its callers. That runs on the thread that delivered the buffer (an app thread whose buffer filled
/// up, or the runtime's flush timer): a comparison per step, nothing allocated, until a step is slow.
/// <para>
/// With the async events alone (<c>waitForStop</c>), nothing else says where a method that left at an await parked: a
/// slow step that left is held until its method is resumed again under the same callers (the resumed stack holds its
/// state), or until <see cref="Expire"/> lets it go with that unknown (a method parked for good; the process's exit).
/// A slow step of a runtime-async context that created state-machine contexts is held instead until each of them has
/// resumed (<see cref="SlowEventStep.Children"/>: the boxes of the user's methods whose first step it ran), or as long.
/// At most <see cref="MaxHeld"/> steps are held; past that a step is handed on at once.
/// </para>
/// </summary>
internal sealed class EventSteps : IAsyncStackSink, IDisposable
{
    /// <summary>How long a slow step waits for its method's next resume to say where it parked.</summary>
    public static readonly long StopWaitTicks = 2 * TimeSpan.TicksPerSecond;

    /// <summary>How many slow steps may wait at once (each is at least the slow threshold long: a bound, not a working size).</summary>
    public const int MaxHeld = 256;

    private readonly long _slowTicks;
    private readonly bool _waitForStop;
    private readonly Action<SlowEventStep> _onSlow;
    private readonly AsyncStepAssembler _assembler;
    private readonly AsyncEventsListener _listener;
    private readonly List<SlowEventStep> _awaitingStop = [];
    private volatile bool _watching;

    // While stretches wait for the boxes that parked in them (KeepResumes): each resumed context's leaf, a ring. The
    // thread that resumed one may have run more contexts since than its recent stacks keep (a bus's reader threads do).
    private const int ResumesKept = 1024;
    private readonly (ulong Context, long At, ulong Method, int State)[] _resumes = new (ulong, long, ulong, int)[ResumesKept];
    private int _resumesNext;
    private volatile bool _keepingResumes;

    public EventSteps(long slowTicks, bool waitForStop, Action<SlowEventStep> onSlow)
    {
        _slowTicks = slowTicks;
        _waitForStop = waitForStop;
        _onSlow = onSlow;
        _assembler = new AsyncStepAssembler(this, methodResumes: (AsyncEventFormat.StepKeywords & AsyncEventFormat.MethodResumeKeywords) != 0);
        _listener = AsyncEventsListener.Start(_assembler, (EventKeywords)AsyncEventFormat.StepKeywords);
    }

    /// <summary>A buffer decoded as if the source had delivered it (the tests' recorded buffers, on a runtime without the source).</summary>
    public void Decode(ReadOnlySpan<byte> buffer) => _listener.Decode(buffer);

    /// <summary>Has every thread's buffer delivered now (see <see cref="AsyncEventsListener.Flush"/>): on AsyncLens's own thread only.</summary>
    public void Flush() => _listener.Flush();

    /// <summary>The steps still running as far as the buffers delivered so far tell (<see cref="AsyncStep.End"/> = its start).</summary>
    public void OpenSteps(List<AsyncStep> into) => _assembler.OpenSteps(into);

    /// <summary>The OS ids of the threads that ran async code so far.</summary>
    public void Threads(List<ulong> into) => _assembler.Threads(into);

    /// <summary>The state-machine contexts created on a thread in a span, oldest first (see <see cref="AsyncStepAssembler.ContextsCreated"/>).</summary>
    public bool ContextsCreated(ulong osThreadId, long from, long to, List<(ulong Context, long At)> into, bool outsideOnly = false) =>
        _assembler.ContextsCreated(osThreadId, from, to, into, outsideOnly);

    /// <summary>
    /// The leaf of <paramref name="context"/>'s first resume after <paramref name="createdAt"/> (the box whose park created
    /// it, and the await it parked at), from the resumes kept (<see cref="KeepResumes"/>) and the stacks the threads' last
    /// contexts ran with; false when none is kept (it has not resumed yet, or was delivered before the keeping began and
    /// its thread has run eight contexts since). On AsyncLens's own thread.
    /// </summary>
    public bool FirstResume(ulong context, long createdAt, out ulong method, out int state)
    {
        (ulong Method, int State, long At) first = (0, AsyncState.Unknown, long.MaxValue);
        lock (_resumes)
        {
            foreach (var resume in _resumes)
            {
                if (resume.Context == context && resume.At >= createdAt && resume.At < first.At)
                    first = (resume.Method, resume.State, resume.At);
            }
        }
        _assembler.RecentStacks(createdAt, (resumed, at, methods, states) =>
        {
            if (resumed == context && at < first.At && methods.Length > 0)
                first = (methods.Span[0], states.Span[0], at);
            return false;
        });
        (method, state) = (first.Method, first.State);
        return first.At != long.MaxValue;
    }

    /// <summary>
    /// As <see cref="FirstResume"/>, with the methods that awaited the box there, leaf first, each with the await it was
    /// parked at (the runtime appends them as it resumes them inline): a chain that parked together. Only the leaf when
    /// the stack is no longer kept. On AsyncLens's own thread.
    /// </summary>
    public bool FirstResumeChain(ulong context, long createdAt, List<(ulong Method, int State)> into)
    {
        if (!FirstResume(context, createdAt, out var leaf, out var leafState))
            return false;
        var at = long.MaxValue;
        _assembler.RecentStacks(createdAt, (resumed, resumedAt, methods, states) =>
        {
            if (resumed == context && resumedAt < at && methods.Length > 0 && methods.Span[0] == leaf)
            {
                at = resumedAt;
                into.Clear();
                for (var i = 0; i < methods.Length; i++)
                    into.Add((methods.Span[i], states.Span[i]));
            }
            return false;
        });
        if (into.Count == 0)
            into.Add((leaf, leafState));
        return true;
    }

    /// <summary>
    /// Watches the state-machine contexts <paramref name="osThreadId"/> creates to their first resume (see
    /// <see cref="ContextWatch"/>): the thread async Main's first step runs on, which no step brackets.
    /// </summary>
    public void WatchContextsCreatedOn(ulong osThreadId) => _assembler.Watch.Watch(osThreadId);

    /// <summary>
    /// The stack a context of the watched thread's (<see cref="WatchContextsCreatedOn"/>), created at
    /// <paramref name="createdAt"/>, first resumed with, leaf first; false if its resume was not seen (yet).
    /// </summary>
    public bool FirstResumeStack(ulong context, long createdAt, out ulong[] methods, out int[] states) =>
        _assembler.Watch.FirstResume(context, createdAt, out methods, out states);

    /// <summary>False on a runtime without the source (the decision in <see cref="StepSource"/> should have said so).</summary>
    public bool SourceSeen => _listener.SourceSeen;

    public bool WatchesStacks => _watching || _keepingResumes;

    /// <summary>
    /// Whether each resumed context's leaf is kept for <see cref="FirstResume"/> (at most the last 1,024): while a stretch
    /// waits for the boxes that parked in it (a request's or a handler's, see <c>SlowSteps.ParkedRequests</c>).
    /// </summary>
    public void KeepResumes(bool keep) => _keepingResumes = keep;

    public bool RemembersStacks => _waitForStop;

    public void OnStep(in AsyncStep step)
    {
        if (OnStepWithCallers(step) is { } slow)
            OnCallersKnown(slow);
    }

    public SlowEventStep? OnStepWithCallers(in AsyncStep step) =>
        step.End - step.Start < _slowTicks ? null : new SlowEventStep(step) { DeliveredAt = Detection.DetectionSettings.Now };

    public void OnCallersKnown(SlowEventStep slow)
    {
        // With the TPL events beside (not alone), a runtime-async step's first steps come from the boxes they record.
        var held = slow.Children is not null
            ? _waitForStop && slow.AwaitsChildren
            : _waitForStop && slow.Step.How == AsyncStepEnd.Left && slow.Step.MethodId != 0;
        lock (_awaitingStop)
        {
            if (held && _awaitingStop.Count < MaxHeld)
            {
                _awaitingStop.Add(slow);
                _watching = true;
                return;
            }
        }
        _onSlow(slow);
    }

    public void OnStackResumed(ulong context, long resumedAt, ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states)
    {
        if (_keepingResumes && !methods.IsEmpty)
        {
            lock (_resumes)
            {
                _resumes[_resumesNext] = (context, resumedAt, methods[0], states[0]);
                _resumesNext = (_resumesNext + 1) % ResumesKept;
            }
        }
        lock (_awaitingStop)
        {
            for (var i = _awaitingStop.Count - 1; i >= 0; i--)
            {
                var slow = _awaitingStop[i];
                if (slow.Children is not null)
                {
                    if (!slow.ChildResumed(context, resumedAt, methods, states) || slow.AwaitsChildren)
                        continue;
                }
                else
                {
                    if (!slow.ResumedAgainIn(methods, states, out var at))
                        continue;
                    slow.StoppedState = states[at];
                    slow.SetCallees(methods[..at], states[..at]);
                }
                _awaitingStop.RemoveAt(i);
                _onSlow(slow);
            }
            _watching = _awaitingStop.Count > 0;
        }
    }

    /// <summary>Hands on the slow steps that waited <see cref="StopWaitTicks"/> for their method's next resume (all of them at exit).</summary>
    public void Expire(long now, bool all)
    {
        if (all)
            _assembler.GiveCallersNow();
        FindInRecentStacks();
        lock (_awaitingStop)
        {
            for (var i = 0; i < _awaitingStop.Count; i++)
            {
                if (!all && now - _awaitingStop[i].DeliveredAt < StopWaitTicks)
                    continue;
                _onSlow(_awaitingStop[i]);
                _awaitingStop.RemoveAt(i--);
            }
            _watching = _awaitingStop.Count > 0;
        }
    }

    // A slow step whose method was resumed again on another thread whose buffer was handed over before the step's own:
    // found in the stacks the threads' last contexts ran with.
    private void FindInRecentStacks()
    {
        SlowEventStep[] waiting;
        lock (_awaitingStop)
            waiting = [.. _awaitingStop];
        foreach (var slow in waiting)
        {
            if (slow.Children is { } children)
            {
                // Every remembered resume is looked at: the earliest after a child's creation is its first.
                _assembler.RecentStacks(children.Min(c => c.CreatedAt), (context, resumedAt, methods, states) =>
                {
                    slow.ChildResumed(context, resumedAt, methods.Span, states.Span);
                    return false;
                });
                if (slow.AwaitsChildren)
                    continue;
            }
            else
            {
                _assembler.RecentStacks(slow.Step.End, (_, _, methods, states) =>
                {
                    if (!slow.ResumedAgainIn(methods.Span, states.Span, out var at))
                        return false;
                    slow.StoppedState = states.Span[at];
                    slow.SetCallees(methods.Span[..at], states.Span[..at]);
                    return true;
                });
                if (slow.StoppedState == AsyncState.Unknown)
                    continue;
            }
            lock (_awaitingStop)
            {
                if (_awaitingStop.Remove(slow))
                    _onSlow(slow);
                _watching = _awaitingStop.Count > 0;
            }
        }
    }

    public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
    {
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>
    /// The async method a step's method id names: the state machine type whose <c>MoveNext</c> starts at that native
    /// code address (the runtime's id of a state machine), found as the runtime finds an address's method for an
    /// exception's async frames (<see cref="Runtime.RuntimeAsyncChains.MethodAt"/>); null for an id of a runtime-async
    /// method (a resume point inside it: no state machine to report on) or one that names nothing.
    /// </summary>
    public static Type? StateMachineOf(ulong methodId) =>
        methodId != 0 && Runtime.RuntimeAsyncChains.MethodAt((nint)methodId).Method is MethodInfo { Name: nameof(IAsyncStateMachine.MoveNext), DeclaringType: { } type }
        && typeof(IAsyncStateMachine).IsAssignableFrom(type)
            ? type
            : null;
}
