namespace AsyncLens.Profiling;

/// <summary>
/// One chain of awaiting methods as .NET 11's async events show it: a method (its runtime id: a state machine's
/// <c>MoveNext</c> address, a runtime-async resume point) under the chain of its awaiters, outermost at the root. The
/// calls made at one chain cannot be told apart (the events carry no box's identity), and need not be: the profile
/// sums over them, so a chain keeps sums. A call's wall time is its completion less its start, summed:
/// <see cref="EndSum"/> less <see cref="StartSum"/>, the calls still running counted up to the stop.
/// </summary>
internal sealed class CallPath(ulong method, CallPath? parent)
{
    private Dictionary<ulong, CallPath>? _children;

    public ulong Method { get; } = method;

    /// <summary>The method that awaits it (null: nothing the events show awaits it, a root).</summary>
    public CallPath? Parent { get; } = parent;

    /// <summary>
    /// A root only: the chain whose step made its first call seen (nobody awaited it: fire and forget, a
    /// <c>Task.WhenAll</c>): its calls hang under that method, as the TPL path's rule 3 puts them (docs/profiler.md); or,
    /// for a chain awaited by runtime-async code, the box that awaits that code (EventProfileAccounting.Awaiters.cs).
    /// </summary>
    public CallPath? Creator;

    /// <summary>Calls seen starting (their box made at a first await that waits) and their start times, summed.</summary>
    public long Starts, StartSum;

    /// <summary>Calls that completed (or threw out), and their completion times, summed.</summary>
    public long Ends, EndSum;

    /// <summary>Its steps' time.</summary>
    public long OnThread;

    /// <summary>
    /// A leaf only: the frame nearest it whose step was seen making a park of this chain (a context whose creator was
    /// in its first run's stack): the frames from there up were boxes already waiting then.
    /// </summary>
    public CallPath? MadeUnder;

    /// <summary>A leaf only: the awaits (states, <see cref="StateBit"/>) its box was seen first parking at, made by a caller's step.</summary>
    public ulong FirstParks;

    /// <summary>A state's bit in <see cref="FirstParks"/> (states past 62 share the last).</summary>
    public static ulong StateBit(int state) => 1UL << Math.Clamp(state + 1, 0, 63);

    /// <summary>
    /// The creation times of the contexts made outside any context whose chain's parks this frame's step makes
    /// (<see cref="MadeUnder"/>): its box and its awaiters' may be old (resumed outside any context) or new (a work
    /// item's call). Settled at the stop against <see cref="Unawaited"/>; rare (a race of the runtime's, or a work item
    /// calling code that also runs in contexts).
    /// </summary>
    public List<long>? Ambiguous;

    /// <summary>Contexts its step made whose first run's stack lacked it: nothing awaited them there, or its box ran on outside any context.</summary>
    public long Unawaited;

    public IEnumerable<CallPath> Children => _children?.Values ?? Enumerable.Empty<CallPath>();

    public CallPath Child(ulong method)
    {
        _children ??= [];
        if (!_children.TryGetValue(method, out var child))
            _children[method] = child = new CallPath(method, this);
        return child;
    }

    /// <summary>
    /// This chain runs <paramref name="creator"/>'s from its frame up, as far as <paramref name="creator"/>'s is known (a
    /// run's stack lacks the callers that awaited after its context was queued and were not resumed in it), each frame
    /// the same method (<paramref name="same"/>: the ids may differ, the JIT having compiled it again in between).
    /// </summary>
    public bool Continues(CallPath creator, Func<ulong, ulong, bool> same)
    {
        var mine = this;
        for (var theirs = creator; theirs is not null; theirs = theirs.Parent, mine = mine.Parent)
        {
            if (mine is null || !same(mine.Method, theirs.Method))
                return false;
        }
        return true;
    }

    /// <summary>
    /// The calls at this chain over the profile: completed, still running at the stop, or completed with no start seen
    /// (started before). A chain whose steps ran though no call of it started or ended here counts its time, no call:
    /// a run's stack may lack callers that awaited after its context was queued, so one method's steps can come at
    /// several chains, and counting a call at each (tried first) made the await benchmark's RunAsync 62 calls pending.
    /// </summary>
    public (long Calls, long Pending, long StartedBefore, long Wall) Figures(long start, long stop)
    {
        var live = Starts - Ends;
        var pending = Math.Max(live, 0);
        var before = Math.Max(-live, 0);
        return (Ends, pending, before, Math.Max(0, EndSum + pending * stop - StartSum - before * start));
    }
}
