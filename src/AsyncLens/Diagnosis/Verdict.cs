namespace AsyncLens.Diagnosis;

/// <summary>The verdicts' kinds: a contract (the JSON's <c>kind</c>, the text's first word).</summary>
internal static class VerdictKinds
{
    public const string PoolStarvation = "pool-starvation";
    public const string SyncOverAsync = "sync-over-async";
    public const string Deadlock = "deadlock";
    public const string StuckRequests = "stuck-requests";
    public const string HotThread = "hot-thread";
    public const string Healthy = "healthy";
}

/// <summary>A place a verdict names: what is there (<c>blocked</c>, <c>waits-for</c>, <c>parked</c>, <c>running</c>, <c>link</c>), the method, its line.</summary>
internal sealed record VerdictSite(string Role, string Method, SourceLine? At);

/// <summary>
/// One finding: its kind, the sentence that says it (in the words of the user's code), how many of how many
/// (threads, requests), the places it names, the threads it is about, and the evidence (lines printed after it).
/// </summary>
internal sealed record Verdict(string Kind, string Summary)
{
    public int? Count { get; init; }

    public int? Of { get; init; }

    public IReadOnlyList<VerdictSite> Sites { get; init; } = [];

    public IReadOnlyList<int> Threads { get; init; } = [];

    public IReadOnlyList<string> Evidence { get; init; } = [];
}

/// <summary>What was looked at, for the healthy verdict and the evidence: the counts behind every verdict.</summary>
internal sealed record Looked(int Threads, int PoolThreads, int PoolBlocked, int PoolIdle, int PendingTasks, long? QueuedWorkItems, TimeSpan? CpuWatched);

/// <summary>The doctor's answer: the verdicts, the most serious first (<c>healthy</c> alone when nothing is wrong).</summary>
/// <paramref name="Waits"/>: threads waiting on locks or events named without a verdict (<see cref="LockWaitTexts.Waits"/>).
internal sealed record Diagnosis(int ProcessId, DateTimeOffset TakenAt, IReadOnlyList<Verdict> Verdicts, Looked Looked, IReadOnlyList<BlockedWait>? Waits = null)
{
    public bool IsHealthy => Verdicts.All(v => v.Kind == VerdictKinds.Healthy);
}
