using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Diagnosis;

/// <summary>
/// Says why a process is stuck, from one read of it (<see cref="ProcessState"/>): the one place that decides what
/// "starved", "deadlocked", "stuck" and "hot" mean. Verdicts come most serious first: a deadlock, then starvation
/// (or, without it, threads blocked on tasks), requests piled up at one await, a thread running the user's code
/// without a pause; <c>healthy</c> when none.
/// </summary>
internal static class Doctor
{
    /// <summary>Starved: at least this share of the pool's workers blocked, and work queued.</summary>
    public const double StarvedShare = 0.75;

    /// <summary>Starved needs at least this many blocked workers (one blocked worker of one is not a pool starving).</summary>
    public const int StarvedMinimum = 2;

    /// <summary>Stuck: this many pending at one await, waiting for one thing (a task, a lock) they share.</summary>
    public const int StuckShared = 10;

    /// <summary>Stuck: this many pending at one await, whatever each waits for.</summary>
    public const int StuckAny = 200;

    /// <summary>Hot: running or ready to run this share of the time watched (and in the same method of the app's when read again)...</summary>
    public const double HotRunnable = 0.9;

    /// <summary>... and waiting (giving the processor up) at most this often per second: a loop that never waits.</summary>
    public const double HotWaitsPerSecond = 3;

    public static Diagnosis Diagnose(ProcessState state)
    {
        var looked = Look(state);
        var verdicts = new List<Verdict>();
        var deadlocked = new HashSet<TaskNode>();
        verdicts.AddRange(Deadlocks.Find(state, deadlocked));
        var blocked = state.Threads.Where(t => !t.IsMain && ThreadStates.Of(t) == ThreadActivity.Blocked && !(t.BlockedOn is { } n && deadlocked.Contains(n))).ToList();
        if (Starvation(state, looked, blocked) is { } starved)
            verdicts.Add(starved);
        else if (SyncOverAsync(state, blocked) is { } sync)
            verdicts.Add(sync);
        var judged = new HashSet<TaskNode>(deadlocked);
        verdicts.AddRange(Stuck(state, deadlocked, judged));
        verdicts.AddRange(Hot(state));
        if (verdicts.Count == 0)
            verdicts.Add(Healthy(state, looked));
        var named = verdicts.Where(v => v.Kind == VerdictKinds.PoolStarvation || v.Kind == VerdictKinds.Deadlock).SelectMany(v => v.Threads).ToHashSet();
        return new Diagnosis(state.ProcessId, state.TakenAt, verdicts, looked, [.. LockWaitTexts.Waits(state, named), .. LockWaitTexts.AsyncWaits(state, judged)]);
    }

    private static Looked Look(ProcessState state)
    {
        var pool = state.Threads.Where(ThreadStates.IsPoolWorker).ToList();
        var pending = state.Graph.Nodes.Count(n => n.Kind is NodeKind.AsyncMethod or NodeKind.DelegateTask or NodeKind.Combinator);
        var watched = state.Threads.Select(t => t.Cpu?.Over).FirstOrDefault(o => o is not null);
        return new Looked(state.Threads.Count, pool.Count, pool.Count(t => ThreadStates.Of(t) == ThreadActivity.Blocked),
            pool.Count(t => ThreadStates.Of(t) == ThreadActivity.Idle), pending, state.QueuedWorkItems, watched);
    }

    /// <summary>Starved: this many of the pool's workers blocked, of so many, with work queued (the console's <c>pool</c> asks too).</summary>
    public static bool IsStarved(int blockedWorkers, int poolThreads, long? queuedWorkItems) =>
        blockedWorkers >= StarvedMinimum && blockedWorkers >= StarvedShare * poolThreads && queuedWorkItems is > 0;

    private static Verdict? Starvation(ProcessState state, Looked looked, List<ObservedThread> blocked)
    {
        var pool = blocked.Where(ThreadStates.IsPoolWorker).ToList();
        if (!IsStarved(pool.Count, looked.PoolThreads, state.QueuedWorkItems) || state.QueuedWorkItems is not { } queued)
            return null;
        var groups = Groups(state, pool);
        var top = groups[0];
        var summary = $"{pool.Count} of {looked.PoolThreads} pool threads blocked; {top.Threads.Count} {top.Sentence}; {Plural(queued, "work item")} queued";
        if (top.Threads.Count == pool.Count)
            summary = $"{pool.Count} of {looked.PoolThreads} pool threads blocked {top.Sentence}; {Plural(queued, "work item")} queued";
        return new Verdict(VerdictKinds.PoolStarvation, summary)
        {
            Count = pool.Count,
            Of = looked.PoolThreads,
            Sites = top.Sites,
            Threads = [.. pool.Select(t => t.ManagedId)],
            Evidence = [.. groups.SelectMany(g => g.Evidence())],
        };
    }

    private static Verdict? SyncOverAsync(ProcessState state, List<ObservedThread> blocked)
    {
        var onTasks = blocked.Where(t => ThreadStates.WaitedTask(t) is not null).ToList();
        if (onTasks.Count == 0)
            return null;
        var groups = Groups(state, onTasks);
        var top = groups[0];
        var threads = onTasks.Count == 1 ? $"thread {onTasks[0].ManagedId.ToString(CultureInfo.InvariantCulture)}" : $"{onTasks.Count} threads";
        var summary = top.Threads.Count == onTasks.Count ? $"{threads} blocked {top.Sentence}" : $"{threads} blocked on tasks; {top.Threads.Count} {top.Sentence}";
        // Threads of the app's or a library's own (Hangfire's job workers, a `new Thread`) cannot starve the pool.
        var pool = onTasks.Any(ThreadStates.IsPoolWorker) ? " (the thread pool is not starved yet)"
            : onTasks.Count == 1 ? " (a thread of its own, not the thread pool's)" : " (threads of their own, not the thread pool's)";
        return new Verdict(VerdictKinds.SyncOverAsync, summary + pool)
        {
            Count = onTasks.Count,
            Sites = top.Sites,
            Threads = [.. onTasks.Select(t => t.ManagedId)],
            Evidence = [.. groups.SelectMany(g => g.Evidence())],
        };
    }

    /// <summary>Blocked threads grouped by where they block and what they wait for, the largest group first.</summary>
    private static List<BlockedGroup> Groups(ProcessState state, List<ObservedThread> threads) =>
        [.. threads.Select(t => new BlockedGroup([t], t, HolderOf(state, t))).GroupBy(g => g.Sentence)
            .Select(g => new BlockedGroup([.. g.SelectMany(x => x.Threads)], g.First().Sample, g.First().Holder))
            .OrderByDescending(g => g.Threads.Count)];

    // `judged`: gets the pending methods each verdict names.
    private static IEnumerable<Verdict> Stuck(ProcessState state, HashSet<TaskNode> deadlocked, HashSet<TaskNode> judged)
    {
        // The innermost awaits: a method awaiting code of its own chain (a callee only it awaits) is counted where that
        // chain parks; many awaiting one shared method (a fetch all requests wait for) are counted where they await it.
        var parked = state.Graph.Nodes.Where(n => n.Kind == NodeKind.AsyncMethod && !deadlocked.Contains(n) && !n.Awaits.Any(c => c.IsCode && c.AwaitedBy.Count == 1)
            && NodeTexts.Of(n) is { At: not null, Note: not "running" });
        foreach (var group in parked.GroupBy(n => NodeTexts.Of(n)).OrderByDescending(g => g.Count()))
        {
            var nodes = group.ToList();
            var shared = SharedWait(nodes);
            if (nodes.Count < StuckShared || shared is null && nodes.Count < StuckAny)
                continue;
            var text = group.Key;
            // Stuck is pending for long: where a second read was made, as many of the same methods must still be parked
            // at the same await. A library's replies in flight (StackExchange.Redis completes each through a
            // TaskCompletionSource of its own, Npgsql's and sockets' through their own sources) are gone by then.
            var still = state.Later is { } later ? nodes.Count(n => later.StillAt(n, text)) : (int?)null;
            if (still < (shared is null ? StuckAny : StuckShared))
                continue;
            judged.UnionWith(nodes);
            var on = shared ?? $"each its own {Leaf(nodes[0]) ?? "await"}";
            var holder = HolderOf(state, nodes);
            var held = holder switch
            {
                null => "",
                { Holder: { } holding } => $"; `{holder.Semaphore}` is held by {WaitChain.From(holding).Describe()}",
                _ => $"; `{holder.Semaphore}` is at count 0 and no pending async method runs inside a try whose finally releases it: the holder cannot be named "
                    + "(code that took it and returned without releasing it, or that releases it elsewhere, or a thread)",
            };
            var summary = $"{Count(nodes.Count)} pending at `{text.Title}` at {At(text.At)}, waiting for {on}{held}";
            var evidence = new List<string> { $"  {Count(nodes.Count)} x {text}" };
            var outer = WaitChains(nodes[0]);
            evidence.Add("  async stack of one of them (root first):");
            evidence.AddRange(outer.Select(n => "    " + NodeTexts.Of(n)));
            // The rest of the same method elsewhere: who may hold what these wait for (one request past the lock).
            var ahead = state.Graph.Nodes.Where(n => n.Kind == NodeKind.AsyncMethod && NodeTexts.Of(n) is var t && t.Title == text.Title && t.At != text.At)
                .GroupBy(n => NodeTexts.Of(n)).ToList();
            foreach (var other in ahead)
                evidence.Add($"  {Count(other.Count())} more of `{text.Title}` at {At(other.Key.At)}{(Leaf(other.First()) is { } l ? " on " + l : "")}");
            var age = state.Later is { } again && still is { } same
                ? string.Create(CultureInfo.InvariantCulture, $" ({(same == nodes.Count ? "all" : Count(same) + " of them")} still pending at a second read {(again.TakenAt - state.TakenAt).TotalSeconds:0.0} s later)")
                : " (ages are not known from outside)";
            yield return new Verdict(VerdictKinds.StuckRequests, summary + age)
            {
                Count = nodes.Count,
                Sites = [new VerdictSite("parked", text.Title, text.At), .. ahead.Select(a => new VerdictSite("ahead", text.Title, a.Key.At)),
                    .. holder?.Holder is null ? [] : new[] { NodeTexts.Of(holder.Holder) is var h ? new VerdictSite("holder", h.Title, h.At) : null! }],
                Evidence = evidence,
            };
        }
    }

    // What the group waits for, when it is one thing: one node all of them await, or each its own wait for a signal
    // (a promise some code completes, a lock's queue), not I/O or a timer that ends by itself.
    private static string? SharedWait(List<TaskNode> nodes)
    {
        var leaves = nodes.Select(n => n.Awaits.Count > 0 ? n.Awaits[0] : null).ToList();
        if (leaves[0] is not { } first)
            return null;
        var title = NodeTexts.Of(first).Title;
        if (leaves.All(l => ReferenceEquals(l, first)))
            return first.IsCode ? $"one {WaitChain.From(first).Describe()}" : $"one {title}";
        if (s_signals.Contains(title) && leaves.All(l => l is not null && NodeTexts.Of(l).Title == title))
            return $"a {title} each (a signal some code must give, not I/O or a timer)";
        return null;
    }

    // The semaphore most of the group wait for, when its holder is known (SemaphoreHold): who the requests queue behind.
    private static SemaphoreHold? HolderOf(ProcessState state, List<TaskNode> nodes)
    {
        if (state.Semaphores is not { Count: > 0 } holds)
            return null;
        var leaves = nodes.Where(n => n.Awaits.Count > 0).Select(n => n.Awaits[0]).ToHashSet();
        return holds.Select(h => (Hold: h, Waiting: h.Waiters.Count(leaves.Contains))).Where(h => h.Waiting * 2 > nodes.Count)
            .OrderByDescending(h => h.Waiting).Select(h => h.Hold).FirstOrDefault();
    }

    // The thread holding the lock a blocked thread waits to enter, when named.
    private static ObservedThread? HolderOf(ProcessState state, ObservedThread thread) =>
        thread.Lock is { Owner: not 0 } wait ? state.Threads.FirstOrDefault(t => t.ManagedId == wait.Owner) : null;

    // Waits that end only when some code signals them: requests piled on one of these wait for one thing.
    private static readonly HashSet<string> s_signals = ["TaskCompletionSource", "Task.WaitAsync", NodeTexts.SemaphoreWait];

    private static string? Leaf(TaskNode node) => node.Awaits.Count > 0 ? NodeTexts.Of(node.Awaits[0]).Title : null;

    // From the root down to the node: the first awaiter at each level, outermost first.
    private static List<TaskNode> WaitChains(TaskNode node)
    {
        var chain = TaskGraph.AwaitedByChain(node);
        chain.Reverse();
        chain.Add(node);
        return chain;
    }

    private static IEnumerable<Verdict> Hot(ProcessState state)
    {
        foreach (var thread in state.Threads)
        {
            if (thread.Cpu is not { } cpu || cpu.Runnable < HotRunnable || cpu.Waits > HotWaitsPerSecond * Math.Max(1, cpu.Over.TotalSeconds)
                || ThreadStates.Of(thread) != ThreadActivity.Running || ThreadStates.UserFrame(thread) is not { } user || !SameAgain(thread, user))
                continue;
            var step = thread.AsyncStep is { } s ? $", a step of `{NodeTexts.Of(s).Title}`" : "";
            var summary = string.Create(CultureInfo.InvariantCulture,
                $"thread {thread.ManagedId} ran {Named(user.Method, user.At)}{step} without waiting for {cpu.Over.TotalSeconds:0.0} s ({cpu.Runnable:P0} of the time running or ready to run)");
            var evidence = new List<string> { string.Create(CultureInfo.InvariantCulture, $"  Thread {thread.ManagedId} (os {thread.OsId}):") };
            evidence.AddRange(thread.Frames.Take(12).Select(f => "    " + f));
            if (thread.AsyncStep is { } running && running.AwaitedBy.Count > 0)
            {
                evidence.Add("  awaited by:");
                evidence.AddRange(WaitChains(running).AsEnumerable().Reverse().Skip(1).Select(n => "    " + NodeTexts.Of(n)));
            }
            yield return new Verdict(VerdictKinds.HotThread, summary)
            {
                Count = 1,
                Sites = [new VerdictSite("running", user.Method, user.At)],
                Threads = [thread.ManagedId],
                Evidence = evidence,
            };
        }
    }

    // Hot is running the same code across reads: a pool worker kept busy by a stream of short work items (a loaded
    // pipeline on a loaded machine) is as runnable and never waits either, but a second read finds it elsewhere, or
    // finds it in the same method after it completed other work items (a producer's loop, its steps one after another).
    private static bool SameAgain(ObservedThread thread, ThreadFrameText user) =>
        thread.Again is not { } again || again.FirstOrDefault(f => f.App) is { } then && then.Method == user.Method && thread.CompletedBetweenReads is not > 0;

    private static Verdict Healthy(ProcessState state, Looked looked)
    {
        var main = state.Threads.FirstOrDefault(t => t.IsMain && ThreadStates.Of(t) == ThreadActivity.Blocked);
        var entry = main is null ? "" : ThreadStates.UserFrame(main) is { } at
            ? $"; the main thread waits in {Named(at.Method, at.At)}, for the app to end" : "; the main thread waits for the app to end";
        var queued = looked.QueuedWorkItems is { } q ? $", {Plural(q, "work item")} queued" : "";
        return new Verdict(VerdictKinds.Healthy, string.Create(CultureInfo.InvariantCulture,
            $"nothing stuck: {Plural(looked.Threads, "thread")} ({looked.PoolThreads} in the thread pool, {looked.PoolIdle} idle, {looked.PoolBlocked} blocked), {Plural(looked.PendingTasks, "pending task")}{queued}{entry}"))
        {
            Sites = main is not null && ThreadStates.UserFrame(main) is { } m ? [new VerdictSite("main", m.Method, m.At)] : [],
        };
    }

    /// <summary><c>`Shop.Get()` at /src/Shop.cs:12</c>, or without a line where none is known.</summary>
    internal static string Named(string method, SourceLine? at) => at is null ? $"`{method}`" : $"`{method}` at {At(at)}";

    internal static string At(SourceLine? at) => at is null ? "(no line)" : $"{at.File}:{at.Line.ToString(CultureInfo.InvariantCulture)}";

    internal static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary><c>1 thread</c>, <c>2 threads</c>, <c>1,200 work items</c>.</summary>
    internal static string Plural(long n, string what) => $"{Count(n)} {what}{(n == 1 ? "" : "s")}";

    /// <summary>Threads blocked at one place for one reason: their sentence, one of them to show, and the thread holding the lock they wait for.</summary>
    private sealed record BlockedGroup(List<ObservedThread> Threads, ObservedThread Sample, ObservedThread? Holder)
    {
        public WaitChain? Chain { get; } = ThreadStates.WaitedTask(Sample) is { } task ? WaitChain.From(task) : null;

        // A lock's wait reads as a lock cycle's link does: what it waits to enter, where, and who holds it, where that runs.
        public string Sentence => Chain is null && Sample.Lock is { } wait
            ? LockWaitTexts.Blocked(wait, Where(Sample), Holder is null ? null : ThreadStates.UserFrame(Holder))
            : Where(Sample) + (Chain is { } chain ? $" waiting{(ThreadStates.HowItWaits(Sample) is { } how ? $" ({how})" : "")} for {chain.Describe()}"
                : Sample.Frames.Count > 0 ? $" in {Sample.Frames[0].Method}" : "");

        public IReadOnlyList<VerdictSite> Sites
        {
            get
            {
                var sites = new List<VerdictSite>();
                if (ThreadStates.Blocker(Sample).User is { } where)
                    sites.Add(new VerdictSite("blocked", where.Method, where.At));
                if (Chain?.Innermost is { } inner && NodeTexts.Of(inner) is var text)
                    sites.Add(new VerdictSite("waits-for", text.Title, text.At));
                if (Holder is not null && ThreadStates.UserFrame(Holder) is { } held)
                    sites.Add(new VerdictSite("holder", held.Method, held.At));
                return sites;
            }
        }

        // "in `Handler()` at F:L", or "in `lambda_method12(...)` under `Timing.InvokeAsync()` at F:L" when the frame that
        // waits is not the user's (a handler a Release build inlined into the framework's code).
        private static string Where(ObservedThread thread) => ThreadStates.Blocker(thread) switch
        {
            ({ } caller, { } user) => $"in `{WaitChain.Short(caller.Method)}` under {Named(user.Method, user.At)}",
            (null, { } user) => $"in {Named(user.Method, user.At)}",
            _ => "in the runtime's code",
        };

        public IEnumerable<string> Evidence()
        {
            yield return $"  {Threads.Count} thread{(Threads.Count == 1 ? "" : "s")} ({string.Join(", ", Threads.Take(12).Select(t => t.ManagedId.ToString(CultureInfo.InvariantCulture)))}{(Threads.Count > 12 ? ", ..." : "")}) {Sentence}";
            yield return string.Create(CultureInfo.InvariantCulture, $"  Thread {Sample.ManagedId} (os {Sample.OsId}):");
            foreach (var frame in Sample.Frames.Take(12))
                yield return "    " + frame;
            if (Chain is { } chain)
            {
                yield return "  waiting for (outermost first):";
                foreach (var line in chain.Lines("    "))
                    yield return line;
            }
            if (Holder is { } holder)
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"  the holder, thread {holder.ManagedId} (os {holder.OsId}):");
                foreach (var frame in holder.Frames.Take(12))
                    yield return "    " + frame;
            }
        }
    }
}
