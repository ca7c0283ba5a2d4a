namespace AsyncLens.Runtime.Layout;

/// <summary>
/// Who holds a lock, where the runtime writes it down: <see cref="Lock"/> (.NET 9+) keeps its owning thread's operating
/// system id, <see cref="ReaderWriterLockSlim"/> its writer's managed id (a monitor's owner is the runtime's sync block, which ClrMD reads); a
/// <see cref="SemaphoreSlim"/> keeps no owner at all, only its count and the queue of the async waits for it (who holds
/// it is read from the holder's code: <c>Remote/SemaphoreHolds.cs</c>).
/// </summary>
internal static class LockLayout
{
    public const string LockType = "System.Threading.Lock";

    /// <summary>uint: the operating system id of the thread holding the lock (CoreCLR; read on .NET 10, Linux), 0 when free.</summary>
    public const string LockOwner = "_owningThreadId";

    public const string ReaderWriterType = "System.Threading.ReaderWriterLockSlim";

    /// <summary>int: the managed id of the thread holding the write lock, -1 when none (readers are counted per thread, not named).</summary>
    public const string WriteOwner = "_writeLockOwnerId";

    /// <summary>int: the managed id of the thread holding the upgradeable read lock, -1 when none.</summary>
    public const string UpgradeOwner = "_upgradeLockOwnerId";

    public const string SemaphoreType = "System.Threading.SemaphoreSlim";

    /// <summary>int: entries left; 0 while it is fully held.</summary>
    public const string SemaphoreCount = "m_currentCount";

    /// <summary>The first of the async waits queued for the semaphore (<see cref="AwaitedLayout.SemaphoreWaiterType"/>), linked by <see cref="WaiterNext"/>.</summary>
    public const string SemaphoreWaiters = "m_asyncHead";

    public const string WaiterNext = "Next";

    /// <summary>
    /// The async method of <see cref="SemaphoreType"/> that a <c>WaitAsync</c> with a token or a timeout runs: its box
    /// awaits the token's or timeout's promise (the chain's leaf is then <c>Task.WaitAsync</c>, not the queued wait), and
    /// keeps the wait queued on the semaphore in its hoisted parameter <see cref="WaitUntilWaiter"/>.
    /// </summary>
    public const string SemaphoreWaitUntil = "WaitUntilCountOrTimeoutAsync";

    public const string WaitUntilWaiter = "asyncWaiter";

    /// <summary>Public methods: what a holder's finally calls, and what it called to acquire.</summary>
    public const string SemaphoreRelease = "Release";

    public const string SemaphoreAcquire = "WaitAsync";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(LockType, LockOwner),
        new(ReaderWriterType, WriteOwner, UpgradeOwner),
        new(SemaphoreType, SemaphoreCount, SemaphoreWaiters),
        new(AwaitedLayout.SemaphoreWaiterType, WaiterNext),
    ];
}
