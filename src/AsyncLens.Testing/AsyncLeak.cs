namespace AsyncLens.Testing;

/// <summary>What kind of work a test left behind.</summary>
public enum AsyncLeakKind
{
    /// <summary>An async method or delegate task started in the scope, still pending after the grace period.</summary>
    PendingTask,

    /// <summary>A timer made in the scope and never disposed.</summary>
    Timer,

    /// <summary>A task started in the scope faulted, and nothing observed its exception.</summary>
    UnobservedException,
}

/// <summary>One piece of async work a test left behind, as the failure message prints it.</summary>
public sealed record AsyncLeak
{
    /// <summary>What it is.</summary>
    public required AsyncLeakKind Kind { get; init; }

    /// <summary>The method as written (<c>Worker.WaitAsync(int)</c>): the innermost of a pending chain, a timer's callback, the faulted method.</summary>
    public required string Method { get; init; }

    /// <summary>The await it is parked at; a timer callback's first line.</summary>
    public SourceLine? At { get; init; }

    /// <summary>Where the work was started, in the test's code, when AsyncLens can tell.</summary>
    public SourceLine? CreatedAt { get; init; }

    /// <summary>A pending task's async stack, root first (<c>Method at File:line</c>), then what the last one awaits.</summary>
    public IReadOnlyList<string> AsyncStack { get; init; } = [];

    /// <summary>A timer's period (null: it fires once).</summary>
    public TimeSpan? Period { get; init; }

    /// <summary>The unobserved exception.</summary>
    public Exception? Exception { get; init; }
}
