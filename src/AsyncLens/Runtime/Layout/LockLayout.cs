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

    /// <summary>uint: the read locks held (all threads together) in its low bits (<see cref="ReaderMask"/>), flags above.</summary>
    public const string ReaderWriterOwners = "_owners";

    /// <summary>The bits of <see cref="ReaderWriterOwners"/> that count the read locks held.</summary>
    public const uint ReaderMask = 0x10000000 - 1;

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

    /// <summary>
    /// Locks with no owner the runtime keeps where it can be read (a <see cref="SemaphoreSlim"/>: a count; a
    /// <see cref="ReaderWriterLockSlim"/>'s readers: counted per thread in a thread-static list; a <see cref="Mutex"/> or
    /// <see cref="Semaphore"/> on Linux: in the runtime's native wait subsystem): their holder is read from the holders'
    /// code instead, a try whose finally calls <see cref="GuardedRelease.Release"/> (<c>Symbols/SemaphoreGuards.cs</c>).
    /// Public methods, as a call names them (a Mutex's wait is <see cref="WaitHandle"/>'s).
    /// </summary>
    public static readonly GuardedRelease[] Releases =
    [
        new(SemaphoreType, SemaphoreRelease, SemaphoreType, [SemaphoreAcquire, "Wait"]),
        new(ReaderWriterType, "ExitReadLock", ReaderWriterType, ["EnterReadLock", "TryEnterReadLock"]),
        new(MutexType, "ReleaseMutex", WaitHandleType, ["WaitOne"]),
        new("System.Threading.Semaphore", "Release", WaitHandleType, ["WaitOne"]),
    ];

    public const string MutexType = "System.Threading.Mutex";

    public const string WaitHandleType = "System.Threading.WaitHandle";

    /// <summary>Events: a wait on one has no holder (whoever would set it is code not yet run).</summary>
    public static readonly string[] EventTypes =
    [
        "System.Threading.ManualResetEventSlim", "System.Threading.ManualResetEvent", "System.Threading.AutoResetEvent", "System.Threading.EventWaitHandle",
        "System.Threading.CountdownEvent",
    ];

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(LockType, LockOwner),
        new(ReaderWriterType, WriteOwner, UpgradeOwner, ReaderWriterOwners),
        new(SemaphoreType, SemaphoreCount, SemaphoreWaiters),
        new(AwaitedLayout.SemaphoreWaiterType, WaiterNext),
    ];
}

/// <summary>A lock released by <paramref name="Release"/> (a method of <paramref name="Type"/>), taken by one of <paramref name="Acquire"/> (methods of <paramref name="AcquireType"/>).</summary>
internal sealed record GuardedRelease(string Type, string Release, string AcquireType, IReadOnlyList<string> Acquire);
