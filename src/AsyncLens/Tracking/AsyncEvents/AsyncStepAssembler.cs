using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// Turns the events of each thread into method steps. A context is resumed with its stack (leaf first); the runtime then
/// raises one method resume per method it runs, in stack order (the leaf, then each awaiting caller its completion runs
/// inline), and a method completion when one returns. A step ends at its method's completion, an exception unwinding
/// it, the next method's resume (it awaited, and its caller did not run on) or the context's suspension or completion.
/// A frame of a runtime-async stack without a code address (id 0) is the runtime's own continuation, first in a chain
/// resumed after an await: it hands the awaited task's or value-task source's result on to the method above it and
/// returns. Its step is handed on with method id 0, as any step (the judge names no method for it), and counted
/// (<see cref="RuntimeContinuations"/>). On ShopApi and Pipelines (.NET 11.0.0) they were every step without a method
/// id (a third and a quarter of all), each a few microseconds. Leaving them out of the steps made debug mode report a
/// false slow step (docs/async-events.md, "Reading it"): why is not understood yet.
/// Per thread, one state object is kept (events of one thread arrive in order, buffer after buffer), found and locked
/// once per buffer (<see cref="IAsyncEventBufferSink"/>); nothing is allocated per event. Each thread's last
/// state-machine contexts created are kept too (a ring): a slow step of a runtime-async context is handed the ones it
/// created (<see cref="SlowEventStep.Children"/>), the boxes of the user's methods whose first step it ran. Runs: .Runs.cs.
/// <para>
/// Without the method resume events (<paramref name="methodResumes"/> false: debug mode does not take them,
/// <see cref="AsyncEventFormat.StepKeywords"/>), a step begins where the one before it ended: the leaf's at its
/// context's resume, a caller's at the completion of the method it awaited (its continuation runs inline next), the
/// frame that catches an exception at its unwinding. A step begun so for a frame past the stack the context resumed
/// with is dropped at its end unless an appended stack (<see cref="AsyncEventKind.AppendStateMachineAsyncCallstack"/>,
/// raised as such a method resumes) named its method: no method ran there.
/// </para>
/// </summary>
internal sealed partial class AsyncStepAssembler(IAsyncStepSink sink, bool methodResumes = true) : IAsyncEventBufferSink
{
    private const int MaxFrames = 256;

    private readonly Dictionary<ulong, ThreadSteps> _threads = [];
    private readonly IAsyncStackSink? _stacks = sink as IAsyncStackSink;
    private readonly IAsyncRunSink? _runs = sink as IAsyncRunSink;

    private long _runtimeContinuations;

    /// <summary>The contexts one thread creates, watched to their first resume (async Main's first step's thread).</summary>
    public ContextWatch Watch { get; } = new();

    /// <summary>Resumes of the runtime's own continuations (frames without a code address): steps with method id 0.</summary>
    public long RuntimeContinuations => Interlocked.Read(ref _runtimeContinuations);

    public void OnAsyncEvent(in AsyncEventBufferHeader header, in AsyncEvent e, long utcTicks)
    {
        var thread = ThreadOf(header.OsThreadId);
        lock (thread)
            Apply(thread, e, utcTicks);
    }

    // The thread's lock is held for the whole buffer: AsyncLens's own readers of a thread's state (OpenSteps, the recent
    // stacks) wait at most one buffer's decoding.
    public object BeginBuffer(in AsyncEventBufferHeader header)
    {
        var thread = ThreadOf(header.OsThreadId);
        Monitor.Enter(thread);
        return thread;
    }

    public void OnAsyncEvent(object buffer, in AsyncEvent e, long utcTicks) => Apply((ThreadSteps)buffer, e, utcTicks);

    public void EndBuffer(object buffer) => Monitor.Exit(buffer);

    private ThreadSteps ThreadOf(ulong osThreadId)
    {
        lock (_threads)
        {
            if (!_threads.TryGetValue(osThreadId, out var thread))
                _threads[osThreadId] = thread = new ThreadSteps(osThreadId, _runs) { DropsUnnamed = !methodResumes };
            return thread;
        }
    }

    private void Apply(ThreadSteps thread, in AsyncEvent e, long now)
    {
        switch (e.Kind)
        {
            case AsyncEventKind.ResumeStateMachineAsyncContext or AsyncEventKind.ResumeRuntimeAsyncContext:
                thread.End(sink, _stacks, now, AsyncStepEnd.Left);
                thread.GiveCallers(_stacks);
                thread.Remember(_stacks);
                thread.EndRun();
                (thread.Context, thread.FrameCount, thread.Next, thread.ResumedAt) = (e.DispatcherId, 0, 0, now);
                thread.RuntimeAsync = e.Kind == AsyncEventKind.ResumeRuntimeAsyncContext;
                if (!methodResumes)
                    thread.Begin(now);
                break;
            case AsyncEventKind.ResumeStateMachineAsyncCallstack or AsyncEventKind.ResumeRuntimeAsyncCallstack:
                thread.GiveCallers(_stacks);
                thread.EndRunIfAny();
                thread.FrameCount = 0;
                thread.Add(e.Frames);
                if (!methodResumes && !thread.Fill())
                    Interlocked.Increment(ref _runtimeContinuations);
                if (_stacks is { WatchesStacks: true } resumedStacks)
                    thread.Resumed(resumedStacks);
                if (Watch.Pending)
                    thread.Resumed(Watch);
                break;
            case AsyncEventKind.AppendStateMachineAsyncCallstack:
                thread.Add(e.Frames);
                if (!methodResumes && !thread.Fill())
                    Interlocked.Increment(ref _runtimeContinuations);
                if (_stacks is { WatchesStacks: true } appendedStacks)
                    thread.Resumed(appendedStacks);
                if (Watch.Appended(thread.Context))
                    thread.Resumed(Watch);
                break;
            case AsyncEventKind.ResumeStateMachineAsyncMethod or AsyncEventKind.ResumeRuntimeAsyncMethod when methodResumes:
                thread.End(sink, _stacks, now, AsyncStepEnd.Left);
                if (!thread.Begin(now))
                    Interlocked.Increment(ref _runtimeContinuations);
                break;
            case AsyncEventKind.CompleteStateMachineAsyncMethod or AsyncEventKind.CompleteRuntimeAsyncMethod:
                thread.End(sink, _stacks, now, AsyncStepEnd.Completed);
                if (!methodResumes && !thread.Begin(now))
                    Interlocked.Increment(ref _runtimeContinuations);
                break;
            case AsyncEventKind.UnwindStateMachineAsyncException or AsyncEventKind.UnwindRuntimeAsyncException:
                thread.End(sink, _stacks, now, AsyncStepEnd.Faulted);
                // The frames unwound past the one that threw were never resumed: their callers are next.
                thread.Next += (int)Math.Min(e.UnwoundFrames, MaxFrames) - 1;
                if (!methodResumes && !thread.Begin(now))
                    Interlocked.Increment(ref _runtimeContinuations);
                break;
            case AsyncEventKind.SuspendStateMachineAsyncContext or AsyncEventKind.CompleteStateMachineAsyncContext
                or AsyncEventKind.SuspendRuntimeAsyncContext or AsyncEventKind.CompleteRuntimeAsyncContext:
                thread.End(sink, _stacks, now, AsyncStepEnd.Left);
                thread.GiveCallers(_stacks);
                thread.Remember(_stacks);
                thread.EndRun();
                thread.Context = 0;
                break;
            case AsyncEventKind.CreateStateMachineAsyncContext or AsyncEventKind.CreateRuntimeAsyncContext:
                if (e.Kind == AsyncEventKind.CreateStateMachineAsyncContext)
                {
                    thread.Created(e.ParentDispatcherId, e.DispatcherId, now);
                    if (thread.OsThreadId == Watch.OsThreadId)
                        Watch.Created(e.DispatcherId, now);
                }
                thread.RunCreated(e.DispatcherId, now, e.Kind == AsyncEventKind.CreateRuntimeAsyncContext);
                sink.OnContextCreated(thread.OsThreadId, e.ParentDispatcherId, e.DispatcherId, now);
                break;
        }
    }

    private sealed partial class ThreadSteps(ulong osThreadId, IAsyncRunSink? runs)
    {
        private readonly IAsyncRunSink? _runs = runs;
        private readonly ulong[] _methods = new ulong[MaxFrames];
        private readonly int[] _states = new int[MaxFrames];
        private List<(SlowEventStep Step, int Frame)>? _awaitingCallers;
        private bool _open;
        private bool _unnamed;
        private int _frame;
        private ulong _method;
        private int _state;
        private long _start;

        // The last contexts' stacks (see RecentStacks), kept only while a stack sink watches: a ring of copies.
        private const int Remembered = 8;
        private readonly ulong[][] _recentMethods = new ulong[Remembered][];
        private readonly int[][] _recentStates = new int[Remembered][];
        private readonly int[] _recentCounts = new int[Remembered];
        private readonly long[] _recentAt = new long[Remembered];
        private readonly ulong[] _recentContexts = new ulong[Remembered];
        private int _recentNext;

        // The state-machine contexts this thread created last (see Created): a ring of (parent, context, time).
        private const int CreatedKept = 16;
        private readonly ulong[] _createdParents = new ulong[CreatedKept];
        private readonly ulong[] _createdContexts = new ulong[CreatedKept];
        private readonly long[] _createdAt = new long[CreatedKept];
        private int _createdNext;

        public ulong OsThreadId { get; } = osThreadId;

        /// <summary>A step begun past the stack its context resumed with, that nothing named, is no method's (no method resume events).</summary>
        public bool DropsUnnamed { get; init; }

        public ulong Context;
        public long ResumedAt;
        public int FrameCount;

        /// <summary>The current context is a runtime-async one (its methods are resume points, not state machines).</summary>
        public bool RuntimeAsync;

        /// <summary>The stack frame the next method resume runs.</summary>
        public int Next;

        public void Add(AsyncStackFrames frames)
        {
            while (FrameCount < MaxFrames && frames.Next(out var id, out var state))
                (_methods[FrameCount], _states[FrameCount++]) = (id, state);
        }

        /// <summary>Opens the step of the next frame's method; false when that frame is the runtime's own continuation.</summary>
        public bool Begin(long now)
        {
            var known = Next >= 0 && Next < FrameCount;
            (_open, _frame, _method, _state, _start) = (true, Next, known ? _methods[Next] : 0, known ? _states[Next] : -1, now);
            _unnamed = !known;
            Next++;
            return !known || _method != 0;
        }

        /// <summary>
        /// The open step's method, where it was begun before the stack named it (no method resume events); false when that
        /// frame is the runtime's own continuation.
        /// </summary>
        public bool Fill()
        {
            if (!_open || !_unnamed || _frame < 0 || _frame >= FrameCount)
                return true;
            (_method, _state, _unnamed) = (_methods[_frame], _states[_frame], false);
            return _method != 0;
        }

        public bool Open(out AsyncStep step)
        {
            step = new AsyncStep(OsThreadId, Context, _method, _state, _start, _start, AsyncStepEnd.Left);
            return _open && !(_unnamed && DropsUnnamed);
        }

        // The checks inlined at each context's resume and end; the copy only where a stack is kept.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Remember(IAsyncStackSink? stacks)
        {
            if (Context != 0 && FrameCount != 0 && stacks is { RemembersStacks: true })
                Keep();
        }

        private void Keep()
        {
            var slot = _recentNext;
            _recentNext = (slot + 1) % Remembered;
            if (_recentMethods[slot] is not { } methods || methods.Length < FrameCount)
                (_recentMethods[slot], _recentStates[slot]) = (methods = new ulong[FrameCount], new int[FrameCount]);
            // A few frames each time (an await's stack): a loop costs less than Array.Copy's checks.
            var states = _recentStates[slot];
            for (var i = 0; i < FrameCount; i++)
                (methods[i], states[i]) = (_methods[i], _states[i]);
            (_recentCounts[slot], _recentAt[slot], _recentContexts[slot]) = (FrameCount, ResumedAt, Context);
        }

        public bool Recent(long since, RecentStack found)
        {
            for (var i = 0; i < Remembered; i++)
            {
                if (_recentMethods[i] is { } methods && _recentAt[i] >= since
                    && found(_recentContexts[i], _recentAt[i], methods.AsMemory(0, _recentCounts[i]), _recentStates[i].AsMemory(0, _recentCounts[i])))
                    return true;
            }
            return false;
        }

        public void Resumed(IAsyncStackSink stacks) => stacks.OnStackResumed(Context, ResumedAt, _methods.AsSpan(0, FrameCount), _states.AsSpan(0, FrameCount));

        public void Resumed(ContextWatch watch) => watch.Resumed(Context, ResumedAt, _methods.AsSpan(0, FrameCount), _states.AsSpan(0, FrameCount));

        /// <summary>
        /// A state-machine context created on this thread while <paramref name="parent"/> ran: a box of an async method
        /// parked and was wrapped in a dispatcher (its first await, if its first step ran here).
        /// </summary>
        public void Created(ulong parent, ulong context, long at)
        {
            var slot = _createdNext;
            _createdNext = (slot + 1) % CreatedKept;
            (_createdParents[slot], _createdContexts[slot], _createdAt[slot]) = (parent, context, at);
        }

        // Oldest first; false when the ring holds none from before `from` (some in the span may be gone).
        public bool CreatedWithin(long from, long to, List<(ulong Context, long At)> into, bool outsideOnly)
        {
            var complete = false;
            for (var k = 0; k < CreatedKept; k++)
            {
                var i = (_createdNext + k) % CreatedKept;
                if (_createdContexts[i] == 0 || _createdAt[i] < from)
                    complete = true;
                else if (_createdAt[i] <= to && !(outsideOnly && _createdParents[i] != 0))
                    into.Add((_createdContexts[i], _createdAt[i]));
            }
            return complete;
        }

        // The state-machine contexts the current context created from the step's start on, oldest first (as far as the ring holds them).
        private AsyncChildContext[] CreatedSince(long start)
        {
            var count = 0;
            for (var i = 0; i < CreatedKept; i++)
            {
                if (_createdParents[i] == Context && _createdAt[i] >= start && _createdContexts[i] != 0)
                    count++;
            }
            if (count == 0)
                return [];
            var children = new AsyncChildContext[count];
            var n = 0;
            for (var k = 0; k < CreatedKept; k++)
            {
                var i = (_createdNext + k) % CreatedKept;
                if (_createdParents[i] == Context && _createdAt[i] >= start && _createdContexts[i] != 0)
                    children[n++] = new AsyncChildContext(_createdContexts[i], _createdAt[i]);
            }
            return children;
        }

        public void End(IAsyncStepSink sink, IAsyncStackSink? stacks, long now, AsyncStepEnd how)
        {
            if (!_open)
                return;
            _open = false;
            if (_unnamed && DropsUnnamed)
                return;
            if (_runs is not null)
            {
                AddRunStep(now, how);
                return;
            }
            var step = new AsyncStep(OsThreadId, Context, _method, _state, _start, now, how);
            if (stacks is null)
                sink.OnStep(step);
            else if (stacks.OnStepWithCallers(step) is { } wanting)
            {
                // A runtime-async step has no code to read: the boxes that parked in it (the first steps of the methods
                // of the user's it ran) are what it can be judged by. Allocated for a slow step only.
                if (RuntimeAsync)
                    wanting.SetChildren(CreatedSince(_start));
                (_awaitingCallers ??= []).Add((wanting, _frame));
            }
        }

        /// <summary>The context's stack is complete (it ends, or another begins): the steps waiting for their callers get them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void GiveCallers(IAsyncStackSink? stacks)
        {
            if (stacks is not null && _awaitingCallers is { Count: > 0 } waiting)
                Give(stacks, waiting);
        }

        private void Give(IAsyncStackSink stacks, List<(SlowEventStep Step, int Frame)> waiting)
        {
            foreach (var (step, frame) in waiting)
            {
                var from = Math.Clamp(frame + 1, 0, FrameCount);
                step.SetCallers(_methods.AsSpan(from, FrameCount - from), _states.AsSpan(from, FrameCount - from));
                stacks.OnCallersKnown(step);
            }
            waiting.Clear();
        }
    }
}
