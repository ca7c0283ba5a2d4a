namespace Deadlocks;

/// <summary>
/// A stock count holds the shelf's gate, a SemaphoreSlim taken with a synchronous Wait(), and then locks the shelf; a
/// restock locks the shelf and then waits for the gate: a semaphore held by a thread (no async code holds it).
/// </summary>
internal static class Shelf
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static readonly object s_shelf = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Count) { IsBackground = true, Name = "count" }.Start();
        new Thread(Restock) { IsBackground = true, Name = "restock" }.Start();
    }

    private static void Count()
    {
        s_gate.Wait(); // @dl.count.acquire
        try
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_shelf) // @dl.count.lock
                Console.Error.WriteLine("counted");
        }
        finally
        {
            s_gate.Release(); // @dl.count.release
        }
    }

    private static void Restock()
    {
        lock (s_shelf)
        {
            s_bothHoldOne.SignalAndWait();
            s_gate.Wait(); // @dl.restock.wait
            s_gate.Release();
        }
    }
}

/// <summary>
/// A report reads the price table under its ReaderWriterLockSlim's read lock and then locks the report queue; a price
/// update locks the report queue and then asks for the write lock: the writer waits for a reader that waits for it.
/// </summary>
internal static class PriceTable
{
    private static readonly ReaderWriterLockSlim s_table = new();
    private static readonly object s_reports = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Report) { IsBackground = true, Name = "report" }.Start();
        new Thread(Update) { IsBackground = true, Name = "update" }.Start();
    }

    private static void Report()
    {
        s_table.EnterReadLock();
        try
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_reports) // @dl.report.lock
                Console.Error.WriteLine("reported");
        }
        finally
        {
            s_table.ExitReadLock(); // @dl.report.release
        }
    }

    private static void Update()
    {
        lock (s_reports)
        {
            s_bothHoldOne.SignalAndWait();
            s_table.EnterWriteLock(); // @dl.update.write
            s_table.ExitWriteLock();
        }
    }
}

/// <summary>A nightly export holds a Mutex (one export at a time) and locks the archive; an archiver locks the archive and waits for the mutex.</summary>
internal static class Export
{
    private static readonly Mutex s_oneExport = new();
    private static readonly object s_archive = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Run) { IsBackground = true, Name = "export" }.Start();
        new Thread(Archive) { IsBackground = true, Name = "archive" }.Start();
    }

    private static void Run()
    {
        s_oneExport.WaitOne();
        try
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_archive) // @dl.export.lock
                Console.Error.WriteLine("exported");
        }
        finally
        {
            s_oneExport.ReleaseMutex(); // @dl.export.release
        }
    }

    private static void Archive()
    {
        lock (s_archive)
        {
            s_bothHoldOne.SignalAndWait();
            s_oneExport.WaitOne(); // @dl.archive.wait
            s_oneExport.ReleaseMutex();
        }
    }
}

/// <summary>
/// Waits no code will end: a drain thread waits on a ManualResetEventSlim the shutdown never sets, a printer on an
/// AutoResetEvent nobody signals, and a settlement on a SemaphoreSlim that a batch took and kept (it returned early
/// without releasing it: no finally).
/// </summary>
internal static class Settlement
{
    private static readonly ManualResetEventSlim s_drained = new();
    private static readonly AutoResetEvent s_paperLoaded = new(false);
    private static readonly SemaphoreSlim s_batch = new(1, 1);

    public static void Start()
    {
        new Thread(Drain) { IsBackground = true, Name = "drain" }.Start();
        new Thread(Print) { IsBackground = true, Name = "print" }.Start();
        TakeBatch(empty: true);
        new Thread(Settle) { IsBackground = true, Name = "settle" }.Start();
    }

    private static void Drain()
    {
        s_drained.Wait(); // @dl.drain.wait
        Console.Error.WriteLine("drained");
    }

    private static void Print()
    {
        s_paperLoaded.WaitOne(); // @dl.print.wait
        Console.Error.WriteLine("printed");
    }

    private static void TakeBatch(bool empty)
    {
        s_batch.Wait();
        if (empty)
            return; // the early return keeps the semaphore
        s_batch.Release();
    }

    private static void Settle()
    {
        s_batch.Wait(); // @dl.settle.wait
        s_batch.Release();
    }
}

/// <summary>
/// Requests queued on a semaphore no code holds any more: a refill took the coupon gate and returned early without
/// releasing it (no finally), and eleven redemptions wait for the gate.
/// </summary>
internal sealed class Coupons
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public static void Start()
    {
        var coupons = new Coupons();
        coupons.Refill(empty: true);
        for (var coupon = 1; coupon <= 11; coupon++)
            _ = coupons.RedeemAsync(coupon);
    }

    private void Refill(bool empty)
    {
        _gate.Wait();
        if (empty)
            return; // the early return keeps the gate
        _gate.Release();
    }

    private async Task RedeemAsync(int coupon)
    {
        await _gate.WaitAsync(); // @dl.redeem.wait
        try
        {
            Console.Error.WriteLine($"redeemed {coupon}");
        }
        finally
        {
            _gate.Release();
        }
    }
}
