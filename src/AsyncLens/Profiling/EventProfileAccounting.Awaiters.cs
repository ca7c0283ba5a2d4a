using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Profiling;

/// <summary>
/// Awaiters across runtime-async code. A state machine's stack stops at a runtime-async frame (ASP.NET Core 11's
/// pipeline, HttpClient): a box awaited by one is a root, and the box that awaits the runtime-async code in turn is in
/// another context's stack. The order of the contexts created in one step tells them apart: a box parks, the
/// runtime-async code awaiting it suspends (a runtime-async context), and the state machine that called that code parks
/// on it (the next state-machine context, its box the leaf). So within a step of runtime-async code (or outside any
/// context, where such code runs first), a state-machine context followed by runtime-async ones and then by a
/// state-machine context is awaited by that context's leaf; the boxes parked before it since the last runtime-async
/// context were made in its step too (a <c>Task.WhenAll</c>'s calls, a call not awaited yet): they hang under its chain's
/// outermost method, the one the runtime-async code called.
/// </summary>
internal sealed partial class EventProfileAccounting
{
    private readonly StepCreations _inRun = new();
    private readonly Dictionary<ulong, StepCreations> _outside = [];
    private StepCreations? _spare;
    private readonly Dictionary<ulong, (ulong Under, bool ToLeaf)> _links = [];
    private readonly Dictionary<ulong, List<ulong>> _linkedUnder = [];
    private readonly Dictionary<ulong, CallPath?> _linkLeaves = [];

    // Under _gate, before the run's creations are paired (a first run that came first is still in _firstRuns).
    private void GroupCreations(in AsyncRun run, int count)
    {
        if (run.Context == 0)
        {
            // Outside any context each creation comes as a run of its own: the thread's stretch goes on until a context runs.
            if (!_outside.TryGetValue(run.OsThreadId, out var outside))
            {
                _outside[run.OsThreadId] = outside = _spare ?? new StepCreations();
                _spare = null;
            }
            foreach (var created in run.Created)
                Group(outside, created);
            return;
        }
        // Most runs: no thread is outside any context (one lookup per run where one is).
        if (_outside.Count != 0 && _outside.Remove(run.OsThreadId, out var ended))
        {
            ended.Clear();
            _spare = ended;
        }
        if (run.Created.Length == 0)
            return;
        _inRun.Clear();
        var frame = -1;
        foreach (var created in run.Created)
        {
            // A runtime-async frame carries no state (-1; id 0: the runtime's own continuation). A state machine's step:
            // its own method made what its step created (Discover), none of this applies.
            var runtimeAsync = (uint)created.Frame < (uint)count && (run.Methods[created.Frame] == 0 || run.States[created.Frame] < 0);
            if (!runtimeAsync || created.Frame != frame)
                _inRun.Clear();
            frame = runtimeAsync ? created.Frame : -1;
            if (runtimeAsync)
                Group(_inRun, created);
        }
    }

    private void Group(StepCreations step, in AsyncRunCreation created)
    {
        if (created.RuntimeAsync)
        {
            if (step.Parked.Count == 0)
                return;
            var last = step.Parked[^1];
            foreach (var sibling in step.Parked)
            {
                if (sibling.Context != last.Context)
                    Link(sibling, last, toLeaf: false);
            }
            step.Suspended = last;
            step.Parked.Clear();
            return;
        }
        // Its first run may have come first (another thread's buffer): it is paired, and dropped, just after.
        var parked = (created.Context, _firstRuns.TryGetValue(created.Context, out var run) ? run.Leaf : null);
        if (step.Suspended.Context != 0)
        {
            Link(step.Suspended, parked, toLeaf: true);
            step.Suspended = default;
        }
        step.Parked.Add(parked);
    }

    private void Link((ulong Context, CallPath? Leaf) awaited, (ulong Context, CallPath? Leaf) awaiter, bool toLeaf)
    {
        if (_links.Count >= MaxUnpaired)
        {
            // Links whose contexts never ran (made just before the stop): dropped.
            _links.Clear();
            _linkedUnder.Clear();
            _linkLeaves.Clear();
        }
        _links[awaited.Context] = (awaiter.Context, toLeaf);
        if (!_linkedUnder.TryGetValue(awaiter.Context, out var linked))
            _linkedUnder[awaiter.Context] = linked = [];
        linked.Add(awaited.Context);
        foreach (var (context, leaf) in (ReadOnlySpan<(ulong, CallPath?)>)[awaited, awaiter])
        {
            if (leaf is not null || !_linkLeaves.ContainsKey(context))
                _linkLeaves[context] = leaf;
        }
        Resolve(awaited.Context);
    }

    // Under _gate: a run of a context some link names (any run: a box's context resumes it at each of its parks).
    private void LinkedRan(ulong context, CallPath leaf)
    {
        // Most runs: no link waits for a stack (one lookup per run where one does).
        if (_linkLeaves.Count == 0 || !_linkLeaves.TryGetValue(context, out var known) || known is not null)
            return;
        _linkLeaves[context] = leaf;
        Resolve(context);
        if (_linkedUnder.TryGetValue(context, out var linked))
        {
            foreach (var other in linked.ToArray())
                Resolve(other);
        }
    }

    // Once both stacks are known: the outermost method of the context's chain hangs under the awaiter found.
    private void Resolve(ulong context)
    {
        if (!_links.TryGetValue(context, out var link)
            || _linkLeaves.GetValueOrDefault(context) is not { } leaf || _linkLeaves.GetValueOrDefault(link.Under) is not { } under)
            return;
        _links.Remove(context);
        if (!_linkedUnder.ContainsKey(context))
            _linkLeaves.Remove(context);
        if (_linkedUnder.TryGetValue(link.Under, out var linked) && linked.Remove(context) && linked.Count == 0)
        {
            _linkedUnder.Remove(link.Under);
            if (!_links.ContainsKey(link.Under))
                _linkLeaves.Remove(link.Under);
        }
        var top = Outermost(leaf);
        var awaiter = link.ToLeaf ? under : Outermost(under);
        if (top != awaiter)
            top.Creator = awaiter;
    }

    private static CallPath Outermost(CallPath path)
    {
        while (path.Parent is { } parent)
            path = parent;
        return path;
    }

    /// <summary>The contexts created so far in one step of runtime-async code, or in a thread's stretch outside any context.</summary>
    private sealed class StepCreations
    {
        /// <summary>The state-machine contexts created since the last runtime-async one, in order, with their stack's leaf if it ran already.</summary>
        public readonly List<(ulong Context, CallPath? Leaf)> Parked = [];

        /// <summary>A state-machine context runtime-async code suspended on, its awaiter not seen yet (context 0: none).</summary>
        public (ulong Context, CallPath? Leaf) Suspended;

        public void Clear()
        {
            Parked.Clear();
            Suspended = default;
        }
    }
}
