using System.Globalization;

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

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A thread's wait named without a verdict: the thread, the wait, the app's frame that waits, and the sentence.</summary>
internal sealed record BlockedWait(int Thread, LockWait Wait, ThreadFrameText? At, string Text);
