namespace AsyncLens.Testing;

/// <summary>Thrown by <see cref="AsyncLeakScope.VerifyAsync"/> (and the adapters) when a test left async work behind; any test framework shows it as the failure.</summary>
public sealed class AsyncLeakException : Exception
{
    /// <summary>Makes the exception with its message and what leaked.</summary>
    public AsyncLeakException(string message, IReadOnlyList<AsyncLeak> leaks)
        : base(message) => Leaks = leaks;

    /// <summary>What the test left behind.</summary>
    public IReadOnlyList<AsyncLeak> Leaks { get; }

    // The message is the report; the check's own stack says nothing about the leak.
    /// <inheritdoc/>
    public override string? StackTrace => null;
}
