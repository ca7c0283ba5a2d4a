using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Diagnosis;

/// <summary>
/// A thread's wait on a lock or an event in words, and the waits the doctor names without judging them: one read
/// cannot tell a wait that will end from one that will not (a worker waiting for an event is how many services idle),
/// so a thread waiting on an event, on a lock whose holder cannot be named, or behind a holder that itself waits, is
/// listed with its line, not given a verdict; a cycle of such waits is a deadlock (<see cref="Deadlocks"/>).
/// </summary>
internal static class LockWaitTexts
{
    /// <summary>What the thread is blocked on: <c>entering a lock (Lock)</c>, <c>waiting for SemaphoreSlim `Shelf.s_gate`</c>.</summary>
    public static string What(LockWait wait) => wait.Holding switch
    {
        LockHolding.Recorded => $"entering a lock ({wait.Type})",
        LockHolding.Event => $"waiting on {Named(wait)}",
        _ => $"waiting for {Named(wait)}",
    };

    /// <summary>Who holds it: <c>held by thread 8</c>, <c>read-locked by thread 8</c>; for an event or a holder not named, why none is said.</summary>
    public static string Holder(LockWait wait) => (wait.Holding, wait.Owner) switch
    {
        (LockHolding.Event, _) => "an event: who would set it is not known",
        (LockHolding.Readers, 0) => "held by readers; none of them runs inside a try whose finally exits the read lock, so the readers cannot be named",
        (LockHolding.Readers, var owner) => Invariant($"read-locked by thread {owner}"),
        (LockHolding.Code, 0) => "no thread runs inside a try whose finally releases it: the holder cannot be named (code that took it and returned without releasing it, or that releases it elsewhere)",
        (_, var owner) => Invariant($"held by thread {owner}"),
    };

    /// <summary>
    /// A thread blocked on a lock, as a starving pool's group names it (the doctor's from outside, the watchdog's from
    /// inside): <c>entering a lock (Object) in `Ledger.Post(int)` at F:L, held by thread 7 in `Ledger.Close(bool)` at F:L</c>.
    /// <paramref name="where"/>: where it waits (<c>in `M` at F:L</c>), or empty when not known; <paramref name="holderAt"/>:
    /// the holder's frame of the app's, when read.
    /// </summary>
    public static string Blocked(LockWait wait, string where, ThreadFrameText? holderAt) =>
        Blocked(What(wait), where, Holder(wait) + (wait.Owner != 0 && holderAt is { } h ? $" in {Doctor.Named(h.Method, h.At)}" : ""));

    /// <summary>The shape itself: what it waits for, where (empty: not known), who holds it.</summary>
    public static string Blocked(string what, string where, string holder) => $"{what}{(where.Length == 0 ? "" : " " + where)}, {holder}";

    private static string Named(LockWait wait) => wait.Name is null ? wait.Type : $"{wait.Type} `{wait.Name}`";

    /// <summary>
    /// The waits outside any deadlock worth naming: on an event, on a lock whose holder is read from code (named or
    /// not), or behind a holder that is itself waiting on a lock or an event. Not the main thread's wait on an event
    /// (how a program waits to be stopped), not a starving pool's workers (their verdict names them), nor a passing
    /// contention on a lock whose holder runs.
    /// </summary>
    public static IReadOnlyList<BlockedWait> Waits(ProcessState state, IReadOnlyCollection<int> named)
    {
        var byId = state.Threads.ToDictionary(t => t.ManagedId);
        var waits = new List<BlockedWait>();
        foreach (var thread in state.Threads)
        {
            if (thread.Lock is not { } wait || named.Contains(thread.ManagedId) || thread.IsMain && wait.Holding == LockHolding.Event
                || wait.Holding == LockHolding.Recorded && !(byId.GetValueOrDefault(wait.Owner) is { Lock: not null } holder))
                continue;
            var user = ThreadStates.UserFrame(thread);
            var where = user is { } f ? $" in {Doctor.Named(f.Method, f.At)}" : "";
            var released = wait.Released is { } at ? $" (it releases it at {Doctor.At(at)})" : "";
            var behind = wait.Owner != 0 && byId.GetValueOrDefault(wait.Owner) is { Lock: { } next } owner && owner.ManagedId != thread.ManagedId
                ? Invariant($", which is blocked {What(next)}") : "";
            waits.Add(new BlockedWait(thread.ManagedId, wait, user, Invariant($"thread {thread.ManagedId} blocked {What(wait)}{where}; {Holder(wait)}{released}{behind}")));
        }
        return waits;
    }

    /// <summary>
    /// Async waits queued on a <see cref="SemaphoreSlim"/> at count 0 that no verdict names: too few to call requests
    /// stuck (<see cref="Doctor.StuckShared"/>), outside any deadlock. Its holder named (a pending method inside the try
    /// whose finally releases it) or not: a semaphore used as a signal (a producer's <c>Release</c>, consumers'
    /// <c>WaitAsync</c>) idles this way, at count 0 with no holder, so one read does not judge it.
    /// </summary>
    public static IEnumerable<BlockedWait> AsyncWaits(ProcessState state, IReadOnlySet<TaskNode> judged)
    {
        foreach (var hold in state.Semaphores ?? [])
        {
            var waiting = hold.Waiters.Select(Waiting).ToList();
            if (waiting.Count == 0 || waiting.Any(w => w is null || judged.Contains(w)) || hold.Waiters.Any(judged.Contains))
                continue;
            var first = NodeTexts.Of(waiting[0]!);
            var at = new ThreadFrameText(first.Title, first.At, null, true);
            var places = waiting.Select(w => NodeTexts.Of(w!)).Select(t => (t.Title, t.At)).Distinct().Count();
            var where = places == 1 ? $" in {Doctor.Named(first.Title, first.At)}" : $" in {Doctor.Named(first.Title, first.At)} and {places - 1} more places";
            var holder = hold.Holder is { } holding ? $"held by {WaitChain.From(holding).Describe()}"
                : "it is at count 0 and no pending async method runs inside a try whose finally releases it: the holder cannot be named "
                    + "(code that took it and returned without releasing it, or that releases it elsewhere, or a thread)";
            var wait = new LockWait("SemaphoreSlim", 0, hold.Semaphore, LockHolding.Code, hold.Released, hold.Holder is { } h ? NodeTexts.Of(h).Title : null);
            yield return new BlockedWait(0, wait, at, $"{Doctor.Plural(waiting.Count, "async wait")} queued for SemaphoreSlim `{hold.Semaphore}`{where}; {holder}")
            {
                Tasks = waiting.Count,
            };
        }
    }

    // The pending async method a semaphore's queued wait is awaited by (through the semaphore's own method, for a wait with a token).
    private static TaskNode? Waiting(TaskNode wait)
    {
        var node = wait;
        for (var depth = 0; depth < 3 && node.AwaitedBy.FirstOrDefault() is { } by; depth++, node = by)
        {
            if (by.Kind == NodeKind.AsyncMethod && NodeTexts.Of(by).At is not null)
                return by;
        }
        return null;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// A wait named without a verdict: the thread (0 for async waits: <see cref="Tasks"/>), the wait, the app's frame
/// (or pending method) that waits, and the sentence.
/// </summary>
internal sealed record BlockedWait(int Thread, LockWait Wait, ThreadFrameText? At, string Text)
{
    /// <summary>How many async waits the line stands for (0: a thread's wait).</summary>
    public int Tasks { get; init; }
}
