using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Diagnosis;

/// <summary>
/// Waits that can never end: a cycle in the graph of who waits for whom (tasks awaiting each other, a thread blocked
/// on a task that waits, through others, for the step the thread itself runs), and a thread blocked on a task whose
/// continuation is queued to that thread's own single-threaded context (<c>.Result</c> on a UI-style context), threads
/// each waiting to enter a lock (<c>lock</c>, <c>Monitor.Enter</c>, a <see cref="Lock"/>, a <see cref="ReaderWriterLockSlim"/>'s
/// write lock) the next holds, and a <see cref="SemaphoreSlim"/> held by async code that waits, through its awaits, for a
/// wait on that same semaphore.
/// </summary>
internal static class Deadlocks
{
    public static IEnumerable<Verdict> Find(ProcessState state, HashSet<TaskNode> deadlocked)
    {
        foreach (var cycle in Cycles(state.Graph))
        {
            deadlocked.UnionWith(cycle);
            yield return CycleVerdict(state, cycle);
        }
        foreach (var cycle in LockCycles(state.Threads))
            yield return LockVerdict(cycle);
        foreach (var hold in state.Semaphores ?? [])
        {
            if (hold.Holder is { } holder && !deadlocked.Contains(holder) && SemaphorePath(hold, holder) is { } path)
            {
                deadlocked.UnionWith(path);
                yield return SemaphoreVerdict(hold, holder, path);
            }
        }
        foreach (var thread in state.Threads)
        {
            if (thread.BlockedOn is { } node && !deadlocked.Contains(node) && !ThreadStates.IsPoolWorker(thread)
                && ThreadStates.WaitedTask(thread) is { } task && WaitChain.From(task) is { Innermost: { } inner } chain
                && NodeTexts.Of(inner).Note == NodeTexts.Resuming)
            {
                deadlocked.Add(node);
                yield return ContextVerdict(thread, chain);
            }
        }
    }

    /// <summary>Each cycle once (one per strongly connected set of nodes), in the order it is walked.</summary>
    internal static List<List<TaskNode>> Cycles(TaskGraph graph)
    {
        var nodes = graph.Nodes;
        var color = new byte[nodes.Count]; // 0 unseen, 1 on the path, 2 done
        var cycles = new List<List<TaskNode>>();
        var inCycle = new bool[nodes.Count];
        var path = new List<TaskNode>();
        var next = new List<int>();
        foreach (var start in nodes)
        {
            if (color[start.Index] != 0)
                continue;
            path.Add(start);
            next.Add(0);
            color[start.Index] = 1;
            while (path.Count > 0)
            {
                var top = path[^1];
                var i = next[^1];
                if (i < top.Awaits.Count)
                {
                    next[^1] = i + 1;
                    var child = top.Awaits[i];
                    if (color[child.Index] == 0)
                    {
                        color[child.Index] = 1;
                        path.Add(child);
                        next.Add(0);
                    }
                    else if (color[child.Index] == 1 && !inCycle[child.Index])
                    {
                        var cycle = path.GetRange(path.IndexOf(child), path.Count - path.IndexOf(child));
                        foreach (var n in cycle)
                            inCycle[n.Index] = true;
                        cycles.Add(cycle);
                    }
                    continue;
                }
                color[top.Index] = 2;
                path.RemoveAt(path.Count - 1);
                next.RemoveAt(next.Count - 1);
            }
        }
        return cycles;
    }

    private static Verdict CycleVerdict(ProcessState state, List<TaskNode> cycle)
    {
        // Start the story at a thread when one is in it (what a person sees stuck first), else at the user's first method.
        var start = cycle.FindIndex(n => n.Kind == NodeKind.Thread);
        if (start < 0)
            start = Math.Max(0, cycle.FindIndex(n => NodeTexts.Of(n).At is not null));
        var ordered = cycle.Skip(start).Concat(cycle.Take(start)).ToList();
        var links = ordered.Select((n, i) => Link(state, n, ordered[(i + 1) % ordered.Count])).ToList();
        var summary = $"{ordered.Count} waits in a cycle: " + string.Join(" waits for ", links.Select(l => l.Text)) + $" waits for {links[0].Short}";
        var evidence = new List<string> { "  the cycle, link by link:" };
        for (var i = 0; i < ordered.Count; i++)
        {
            evidence.Add($"    {links[i].Text}");
            evidence.Add($"      waits for {links[(i + 1) % ordered.Count].Short}");
        }
        return new Verdict(VerdictKinds.Deadlock, summary)
        {
            Count = ordered.Count,
            Sites = [.. ordered.Select(n => NodeTexts.Of(n) is var t ? new VerdictSite("link", t.Title, t.At) : null!)],
            Threads = [.. state.Threads.Where(t => t.BlockedOn is { } b && cycle.Contains(b)).Select(t => t.ManagedId)],
            Evidence = evidence,
        };
    }

    private static (string Text, string Short) Link(ProcessState state, TaskNode node, TaskNode next)
    {
        var text = NodeTexts.Of(node);
        if (node.Kind == NodeKind.Thread && state.Threads.FirstOrDefault(t => t.BlockedOn == node) is { } thread)
        {
            var how = ThreadStates.HowItWaits(thread) is { } h ? $" ({h})" : "";
            var where = ThreadStates.UserFrame(thread) is { } f ? $" in `{f.Method}` at {Doctor.At(f.At)}" : "";
            var id = thread.ManagedId.ToString(CultureInfo.InvariantCulture);
            return ($"thread {id}, blocked{how}{where}", $"thread {id}");
        }
        var at = text.At is null ? "" : $" at {Doctor.At(text.At)}";
        var running = next.Kind == NodeKind.Thread && state.Threads.FirstOrDefault(t => t.BlockedOn == next) is { } on
            ? string.Create(CultureInfo.InvariantCulture, $" (running on thread {on.ManagedId})") : "";
        return ($"`{text.Title}`{at}{running}", $"`{text.Title}`");
    }

    /// <summary>Threads each waiting to enter a lock the next one holds, back to the first: each cycle once, from its lowest thread id.</summary>
    internal static List<List<ObservedThread>> LockCycles(IReadOnlyList<ObservedThread> threads)
    {
        var byId = threads.ToDictionary(t => t.ManagedId);
        var seen = new HashSet<int>();
        var cycles = new List<List<ObservedThread>>();
        foreach (var start in threads.OrderBy(t => t.ManagedId))
        {
            var path = new List<ObservedThread>();
            var thread = start;
            while (thread is { Lock: { } wait } && !seen.Contains(thread.ManagedId) && !path.Contains(thread))
            {
                path.Add(thread);
                thread = byId.GetValueOrDefault(wait.Owner);
            }
            if (thread is not null && path.IndexOf(thread) is var at and >= 0)
                cycles.Add(path.GetRange(at, path.Count - at));
            seen.UnionWith(path.Select(t => t.ManagedId));
        }
        return cycles;
    }

    private static Verdict LockVerdict(List<ObservedThread> cycle)
    {
        var links = cycle.Select(t =>
        {
            var where = ThreadStates.UserFrame(t) is { } f ? $" in `{f.Method}` at {Doctor.At(f.At)}" : "";
            return string.Create(CultureInfo.InvariantCulture, $"thread {t.ManagedId}, blocked {LockWaitTexts.What(t.Lock!)}{where}, {LockWaitTexts.Holder(t.Lock!)}");
        }).ToList();
        var evidence = new List<string> { "  the cycle, link by link:" };
        foreach (var thread in cycle)
        {
            evidence.Add(string.Create(CultureInfo.InvariantCulture, $"  Thread {thread.ManagedId} (os {thread.OsId}), blocked {LockWaitTexts.What(thread.Lock!)}, {LockWaitTexts.Holder(thread.Lock!)}:"));
            evidence.AddRange(thread.Frames.Take(12).Select(f => "    " + f));
        }
        return new Verdict(VerdictKinds.Deadlock, $"{cycle.Count} threads in a cycle of locks: " + string.Join("; ", links))
        {
            Count = cycle.Count,
            Sites = [.. cycle.Select(t => ThreadStates.UserFrame(t) is { } f ? new VerdictSite("link", f.Method, f.At) : new VerdictSite("link", t.Frames.FirstOrDefault()?.Method ?? "", null)),
                .. cycle.Where(t => t.Lock!.Released is not null).Select(t => new VerdictSite("released", t.Lock!.ReleasedIn ?? "", t.Lock.Released))],
            Threads = [.. cycle.Select(t => t.ManagedId)],
            Evidence = evidence,
        };
    }

    /// <summary>
    /// The awaits from a semaphore's holder down to one of the semaphore's own waits, holder first (without the wait),
    /// or null when the holder does not wait for it.
    /// </summary>
    internal static List<TaskNode>? SemaphorePath(SemaphoreHold hold, TaskNode holder)
    {
        var waits = hold.Waiters.ToHashSet();
        var from = new Dictionary<TaskNode, TaskNode?> { [holder] = null };
        var queue = new Queue<TaskNode>([holder]);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var child in node.Awaits)
            {
                if (waits.Contains(child))
                {
                    var path = new List<TaskNode>();
                    for (TaskNode? n = node; n is not null; n = from[n])
                        path.Insert(0, n);
                    return path;
                }
                if (from.TryAdd(child, node))
                    queue.Enqueue(child);
            }
        }
        return null;
    }

    private static Verdict SemaphoreVerdict(SemaphoreHold hold, TaskNode holding, List<TaskNode> path)
    {
        var holder = NodeTexts.Of(holding);
        var name = $"`{hold.Semaphore}`";
        var held = $"{Doctor.Named(holder.Title, holder.At)} holds the SemaphoreSlim {name} ({(hold.Acquired is null ? "" : $"acquired at {Doctor.At(hold.Acquired)}, ")}released at {Doctor.At(hold.Released)})";
        var waits = path.Skip(1).Select(n => NodeTexts.Of(n) is var t ? Doctor.Named(t.Title, t.At) : "").ToList();
        var summary = waits.Count == 0 ? $"{held} and waits for {name} itself"
            : $"{held} and waits for {string.Join(", which waits for ", waits)}, which waits for {name}";
        var evidence = new List<string> { "  the cycle, link by link:" };
        evidence.AddRange(path.Select(n => $"    {NodeTexts.Of(n)}"));
        evidence.Add($"    SemaphoreSlim {name}: count 0, {Doctor.Plural(hold.Waiters.Count, "async wait")} queued; `{holder.Title}` releases it at {Doctor.At(hold.Released)}");
        return new Verdict(VerdictKinds.Deadlock, "a SemaphoreSlim held while waiting for itself: " + summary)
        {
            Count = path.Count + 1,
            Sites = [.. path.Select(n => NodeTexts.Of(n) is var t ? new VerdictSite("link", t.Title, t.At) : null!),
                new VerdictSite("acquired", holder.Title, hold.Acquired), new VerdictSite("released", holder.Title, hold.Released)],
            Evidence = evidence,
        };
    }

    private static Verdict ContextVerdict(ObservedThread thread, WaitChain chain)
    {
        var where = ThreadStates.UserFrame(thread);
        var inner = NodeTexts.Of(chain.Innermost!);
        var how = ThreadStates.HowItWaits(thread) is { } h ? $" ({h})" : "";
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"thread {thread.ManagedId} blocked{how} in `{where?.Method ?? thread.Frames.FirstOrDefault()?.Method}` at {Doctor.At(where?.At)} waiting for `{inner.Title}`, "
            + $"whose continuation after {Doctor.At(inner.At)} is queued to run on the blocked thread's own context (a single-threaded SynchronizationContext): neither can go on");
        var evidence = new List<string> { string.Create(CultureInfo.InvariantCulture, $"  Thread {thread.ManagedId} (os {thread.OsId}):") };
        evidence.AddRange(thread.Frames.Take(12).Select(f => "    " + f));
        evidence.Add("  waiting for (outermost first):");
        evidence.AddRange(chain.Lines("    "));
        return new Verdict(VerdictKinds.Deadlock, summary)
        {
            Count = 2,
            Sites = [new VerdictSite("blocked", where?.Method ?? "", where?.At), new VerdictSite("resuming", inner.Title, inner.At)],
            Threads = [thread.ManagedId],
            Evidence = evidence,
        };
    }
}
