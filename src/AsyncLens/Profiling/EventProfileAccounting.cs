using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Profiling;

/// <summary>
/// The profiler's accounting from .NET 11's async events (<see cref="EventProfilerEngine"/>): each context's run, as
/// <see cref="AsyncStepAssembler"/> hands it over, gives steps by frame of the stack the context resumed with (leaf
/// first). A frame's chain of awaiters is its <see cref="CallPath"/>: a step's time is its chain's on-thread time, a
/// step that completes (or throws out) ends a call there.
/// <para>
/// Calls start where no event says so: a box is made at its method's first await that waits, inside the step of the
/// code that called it. The runtime creates a context at a box's park (on a task that is no async method's: a delay,
/// I/O, a yield) and that context's first run resumes the box, under the boxes made since that await it. So at a
/// context's first run, the frames below the one whose step created the context (<see cref="AsyncRunCreation.Frame"/>)
/// are calls that started at its creation; with no such frame in the stack, or no step, every frame is. The two may
/// come in either order (each thread's buffer is delivered on its own): whichever comes second completes the pair.
/// </para>
/// </summary>
internal sealed partial class EventProfileAccounting(long start, Func<ulong, MethodKey> keyOf, Func<MethodKey, ProfiledMethod> nameOf) : IAsyncRunSink
{
    private const int MaxDepth = 48;

    /// <summary>First runs kept while their context's creation is not in (a context run again lands here too: swept).</summary>
    private const int MaxUnpaired = 16_384;

    private readonly object _gate = new();
    private readonly Dictionary<ulong, CallPath> _roots = [];
    private readonly Dictionary<ulong, (long At, CallPath? Creator)> _created = [];
    private readonly Dictionary<ulong, (long ResumedAt, CallPath Leaf, int State)> _firstRuns = [];

    // Two ids of one method: its code moved as the JIT compiled it again (tiering, on-stack replacement). Named only
    // where the ids differ, once per id (the engine keeps them).
    private readonly Func<ulong, ulong, bool> _same = (a, b) => a == b || (a != 0 && b != 0 && ReferenceEquals(keyOf(a), keyOf(b)));
    private CallPath[] _paths = new CallPath[16];
    private ulong[] _lastMethods = new ulong[16];
    private int _lastCount;
    private long _stopped;
    private AsyncProfile? _profile;

    /// <summary>Contexts whose first run was dropped unpaired (their creation never came: made before the profile, or swept).</summary>
    public long Unpaired { get; private set; }

    public void OnRun(in AsyncRun run)
    {
        lock (_gate)
        {
            if (_stopped != 0)
                return;
            var count = Math.Min(run.Methods.Length, MaxFrames);
            var paths = Chains(run.Methods[..count]);
            foreach (var step in run.Steps)
            {
                if ((uint)step.Frame >= (uint)count || run.Methods[step.Frame] == 0)
                    continue;
                var path = paths[step.Frame];
                path.OnThread += Math.Max(0, step.End - step.Start);
                if (step.How != AsyncStepEnd.Left)
                {
                    path.Ends++;
                    path.EndSum += step.End;
                }
            }
            GroupCreations(run, count);
            foreach (var created in run.Created)
                Created(created.Context, created.At, (uint)created.Frame < (uint)count ? paths[created.Frame] : null);
            if (run.Context != 0 && count > 0)
            {
                LinkedRan(run.Context, paths[0]);
                FirstRun(run.Context, run.ResumedAt, paths[0], run.States[0]);
            }
        }
    }

    public void OnStep(in AsyncStep step)
    {
    }

    public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
    {
    }

    private const int MaxFrames = 256;

    // Each frame's chain, leaf first (the array is reused: valid until the next run). A run with the stack of the one
    // before (a loop's every iteration) reuses its chains.
    private CallPath[] Chains(ReadOnlySpan<ulong> methods)
    {
        if (methods.SequenceEqual(_lastMethods.AsSpan(0, _lastCount)))
            return _paths;
        if (_paths.Length < methods.Length)
            (_paths, _lastMethods) = (new CallPath[Math.Max(methods.Length, _paths.Length * 2)], new ulong[Math.Max(methods.Length, _paths.Length * 2)]);
        methods.CopyTo(_lastMethods);
        _lastCount = methods.Length;
        CallPath? above = null;
        for (var i = methods.Length - 1; i >= 0; i--)
        {
            if (above is null)
            {
                if (!_roots.TryGetValue(methods[i], out var root))
                    _roots[methods[i]] = root = new CallPath(methods[i], null);
                above = root;
            }
            else
            {
                above = above.Child(methods[i]);
            }
            _paths[i] = above;
        }
        return _paths;
    }

    private void Created(ulong context, long at, CallPath? creator)
    {
        if (_firstRuns.Remove(context, out var run))
            Discover(run.Leaf, run.State, at, creator);
        else
            _created[context] = (at, creator);
    }

    private void FirstRun(ulong context, long resumedAt, CallPath leaf, int state)
    {
        if (_created.Remove(context, out var created))
        {
            Discover(leaf, state, created.At, created.Creator);
            return;
        }
        if (_firstRuns.TryGetValue(context, out var known) && known.ResumedAt <= resumedAt)
            return;
        if (_firstRuns.Count >= MaxUnpaired)
            Sweep(resumedAt);
        _firstRuns[context] = (resumedAt, leaf, state);
    }

    // Delivery lags by ~1.25 s at most: a first run still unpaired 5 s on never will be (its context was created
    // before the profile, or it ran again after its first run was paired).
    private void Sweep(long now)
    {
        var old = now - 5 * TimeSpan.TicksPerSecond;
        var before = _firstRuns.Count;
        foreach (var (context, run) in _firstRuns)
        {
            if (run.ResumedAt < old)
                _firstRuns.Remove(context);
        }
        if (_firstRuns.Count >= MaxUnpaired)
            _firstRuns.Clear();
        Unpaired += before - _firstRuns.Count;
    }

    // The calls that started as the context was created: its stack's frames below the creating step's (all of them
    // when it is not in the stack; then nothing awaits the outermost, which hangs under the creator).
    private void Discover(CallPath leaf, int state, long at, CallPath? creator)
    {
        CallPath? found;
        if (creator is null)
        {
            // No step ran as it was made: a work item's or a program's first step (every frame new), or a box the
            // runtime resumed outside any context (a continuation a value-task source or a completed task ran bare), its
            // callers' boxes old. A leaf parked at an await no first park of its chain was seen at is such a box
            // parking again: nothing new. Otherwise the frames below the one whose step makes this chain's parks are
            // new, and the rest is told at the stop (Settle).
            if (leaf.FirstParks != 0 && (leaf.FirstParks & CallPath.StateBit(state)) == 0)
                return;
            found = leaf.MadeUnder;
            if (found is not null)
                (found.Ambiguous ??= []).Add(at);
        }
        else
        {
            // By id first (one comparison a frame: a first run per await); by method only where that finds nothing.
            found = Find(leaf, creator, s_sameId) ?? Find(leaf, creator, _same);
            if (found is null)
            {
                creator.Unawaited++;
                // A chain whose parks its own frame's step makes (MadeUnder) parking in another method's step: a box of
                // it resumed inline there (a pool handing a connection over as it completes in another request's step)
                // parks again; the boxes from that frame up are old. A call the step made itself (fire and forget, a
                // Task.WhenAll's) is its chain's outermost frame, no frame above that one.
                if (leaf.MadeUnder is { Parent: not null } under)
                    found = under;
            }
            else if (found != leaf)
            {
                leaf.FirstParks |= CallPath.StateBit(state);
                if (leaf.MadeUnder != found)
                    leaf.MadeUnder = Nearer(leaf, leaf.MadeUnder, found);
            }
        }
        CallPath? top = null;
        for (var path = leaf; path is not null && path != found; path = path.Parent)
        {
            // The runtime's own continuation (id 0) is no method's call: it never ends as one.
            if (path.Method != 0)
            {
                path.Starts++;
                path.StartSum += at;
            }
            top = path;
        }
        if (found is null && creator is not null && top is { Creator: null } && top != creator)
            top.Creator = creator;
    }

    // Of two frames of the leaf's stack (either may be null), the one nearer the leaf: the fewest frames taken as new.
    private static CallPath? Nearer(CallPath leaf, CallPath? a, CallPath? b)
    {
        for (var path = leaf; path is not null; path = path.Parent)
        {
            if (path == a || path == b)
                return path;
        }
        return a ?? b;
    }

    // At the stop, on the merged chains: a box resumed outside any context (the runtime queues a continuation to the
    // pool bare when the task it awaits completed as it registered: the await benchmark's race, one iteration in tens
    // of thousands) ran after a context its step made had run without it in its stack. So the ambiguous contexts of a
    // frame are old boxes as far as it has such contexts (Unawaited), and new calls of it and its awaiters beyond that:
    // the earliest (an old box was made before).
    private static void Settle(IEnumerable<CallPath> merged)
    {
        foreach (var path in merged)
        {
            if (path.Ambiguous is not { } times || times.Count <= path.Unawaited)
                continue;
            times.Sort();
            var fresh = times.Count - (int)path.Unawaited;
            var sum = 0L;
            for (var i = 0; i < fresh; i++)
                sum += times[i];
            for (var up = path; up is not null; up = up.Parent)
            {
                if (up.Method != 0)
                    (up.Starts, up.StartSum) = (up.Starts + fresh, up.StartSum + sum);
            }
        }
    }

    private static readonly Func<ulong, ulong, bool> s_sameId = static (a, b) => a == b;

    // The frame of the stack that is the creator's, its callers as far as the creator's are known.
    private static CallPath? Find(CallPath leaf, CallPath creator, Func<ulong, ulong, bool> same)
    {
        for (var path = leaf; path is not null; path = path.Parent)
        {
            if (same(path.Method, creator.Method) && path.Continues(creator, same))
                return path;
        }
        return null;
    }

    /// <summary>Ends the accounting (once; later calls return the same profile): the calls still running are counted up to <paramref name="now"/>.</summary>
    public AsyncProfile Stop(long now, ProfileScope scope)
    {
        lock (_gate)
        {
            if (_profile is not null)
                return _profile;
            _stopped = Math.Max(now, start + 1);
            var tree = new Tree(scope, keyOf, start, _stopped);
            foreach (var root in Canonical())
                tree.Add(root);
            tree.Root.Resolve(nameOf);
            return _profile = AsyncProfile.From(tree.Root, TimeSpan.FromTicks(_stopped - start), tree.Outside, fromAsyncEvents: true);
        }
    }

    // Under _gate, at the stop: the chains merged by method. An id is a code address, and a method's changes as the JIT
    // tiers it up (on-stack replacement too, in a loop): its calls would start at one chain and end at another. Chains
    // of the same methods are one, their sums added (each method stands for itself by the first id seen of it).
    private List<CallPath> Canonical()
    {
        var roots = new Dictionary<ulong, CallPath>();
        var first = new Dictionary<MethodKey, ulong>();
        var merged = new Dictionary<CallPath, CallPath>();
        ulong Of(ulong id)
        {
            if (id == 0)
                return 0;
            var key = keyOf(id);
            if (!first.TryGetValue(key, out var known))
                first[key] = known = id;
            return known;
        }
        var pending = new Stack<(CallPath Raw, CallPath? Above)>(_roots.Values.Select(r => (r, (CallPath?)null)));
        while (pending.Count > 0)
        {
            var (raw, above) = pending.Pop();
            var id = Of(raw.Method);
            var path = above?.Child(id) ?? (roots.TryGetValue(id, out var root) ? root : roots[id] = new CallPath(id, null));
            (path.Starts, path.StartSum, path.Ends, path.EndSum, path.OnThread) =
                (path.Starts + raw.Starts, path.StartSum + raw.StartSum, path.Ends + raw.Ends, path.EndSum + raw.EndSum, path.OnThread + raw.OnThread);
            path.Unawaited += raw.Unawaited;
            if (raw.Ambiguous is { } times)
                (path.Ambiguous ??= []).AddRange(times);
            merged[raw] = path;
            foreach (var child in raw.Children)
                pending.Push((child, path));
        }
        foreach (var (raw, path) in merged)
        {
            if (raw.Creator is { } creator && path.Creator is null && merged[creator] != path)
                path.Creator = merged[creator];
        }
        Settle(merged.Values.Distinct());
        return [.. roots.Values];
    }

    // The call tree of the listed methods: each chain's figures go to the node of its listed awaiters (through its
    // creator for a root something created), or, folded, its on-thread time to the nearest listed one above it.
    private sealed class Tree(ProfileScope scope, Func<ulong, MethodKey> keyOf, long start, long stop)
    {
        private readonly Dictionary<CallPath, CallNode> _anchors = [];
        private readonly HashSet<CallPath> _placing = [];

        public CallNode Root { get; } = new(null, null);

        public OutsideFigures Outside { get; } = new();

        public void Add(CallPath root)
        {
            var pending = new Stack<CallPath>();
            pending.Push(root);
            while (pending.Count > 0)
            {
                var path = pending.Pop();
                Account(path);
                foreach (var child in path.Children)
                    pending.Push(child);
            }
        }

        private void Account(CallPath path)
        {
            var (calls, running, before, wall) = path.Figures(start, stop);
            var above = Above(path);
            if (!Listed(path))
            {
                if (above != Root)
                    above.OnThread += path.OnThread;
                else
                {
                    Outside.Calls += (int)calls;
                    Outside.Pending += (int)running;
                    Outside.StartedBefore += (int)before;
                    Outside.OnThread += path.OnThread;
                }
                return;
            }
            // Parked on a listed callee it awaits: that callee's time, not its own.
            var childWall = 0L;
            foreach (var child in path.Children)
            {
                if (Listed(child))
                    childWall += child.Figures(start, stop).Wall;
            }
            var node = Anchor(path);
            node.Calls += (int)calls;
            node.Pending += (int)running;
            node.StartedBefore += (int)before;
            node.Wall += wall;
            node.SelfWall += Math.Max(0, wall - childWall);
            node.OnThread += path.OnThread;
        }

        private bool Listed(CallPath path) => path.Method != 0 && scope.Lists(keyOf(path.Method).Kind);

        // What the calls of a chain hang under: its listed awaiter's node (or its creator's, for a root something made).
        private CallNode Above(CallPath path)
        {
            var up = path.Parent ?? path.Creator;
            return up is null ? Root : Anchor(up);
        }

        private CallNode Anchor(CallPath path)
        {
            if (_anchors.TryGetValue(path, out var known))
                return known;
            // Creators may loop (a chain made by a call under itself): the loop's start hangs at the top.
            if (!_placing.Add(path))
                return Root;
            var above = Above(path);
            _placing.Remove(path);
            var node = Listed(path) ? (above.Depth >= MaxDepth ? Root : above).Child(keyOf(path.Method)) : above;
            _anchors[path] = node;
            return node;
        }
    }
}
