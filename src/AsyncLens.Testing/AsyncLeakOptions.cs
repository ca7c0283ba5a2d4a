namespace AsyncLens.Testing;

/// <summary>How an <see cref="AsyncLeakScope"/> checks: the grace period, and what it ignores on purpose.</summary>
public sealed record AsyncLeakOptions
{
    /// <summary>How long work started in the scope may still finish after the check begins. Default 100 ms.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Leaks this returns true for are ignored (goleak's <c>IgnoreAnyFunction</c>, as a predicate).</summary>
    public Func<AsyncLeak, bool>? Ignore { get; init; }

    /// <summary>
    /// Methods as written (<c>Poller.RunAsync</c>, or with the namespace): a pending task or timer whose async stack or
    /// callback has one of them is ignored (goleak's <c>IgnoreTopFunction</c>, for any frame).
    /// </summary>
    public IReadOnlyList<string> IgnoreMethods { get; init; } = [];

    /// <summary>
    /// Set, pending tasks and timers are allowed (the test starts a long-lived loop knowingly; say why); unobserved
    /// exceptions still fail. <see cref="AllowPendingTasksAttribute"/> sets it in the adapters.
    /// </summary>
    public string? AllowPendingReason { get; init; }

    /// <summary>The test's name, for the message (the adapters set it).</summary>
    public string? TestName { get; init; }

    internal void Validate()
    {
        if (GracePeriod < TimeSpan.Zero || GracePeriod > TimeSpan.FromMinutes(10))
            throw new ArgumentOutOfRangeException(nameof(GracePeriod), GracePeriod, "The grace period must be between 0 and 10 minutes.");
    }
}
