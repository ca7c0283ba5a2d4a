namespace Deadlocks;

/// <summary>
/// A restock takes the stock gate (a SemaphoreSlim of one) and, while it holds it, awaits a recount; the recount
/// takes the same gate first: the restock waits for the recount, which waits for the gate the restock holds.
/// </summary>
internal sealed class Stock
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    public static void Start() => _ = new Stock().RestockAsync(12);

    private async Task RestockAsync(int count)
    {
        await _gate.WaitAsync(); // @dl.restock.acquire
        try
        {
            await RecountAsync(); // @dl.restock.await
            Console.Error.WriteLine($"restocked {count}");
        }
        finally
        {
            _gate.Release(); // @dl.restock.release
        }
    }

    // Its wait takes a token, as most real waits do: the semaphore then queues the wait inside an async method of its
    // own, and the recount's chain ends at the token's promise.
    private async Task<int> RecountAsync()
    {
        await Task.Yield();
        await _gate.WaitAsync(_stopping.Token); // @dl.recount.acquire
        try
        {
            return 12;
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>
/// A price list and a catalog, each behind a System.Threading.Lock (.NET 9+), taken in opposite orders by two threads.
/// The inner ones are taken with EnterScope: the compiler (SDK 10.0) writes no line for a <c>lock</c> statement on a
/// Lock in the PDB, so a thread waiting in one is placed at the statement before it (docs/doctor.md).
/// </summary>
internal static class PriceList
{
    private static readonly Lock s_prices = new();
    private static readonly Lock s_catalog = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Reprice) { IsBackground = true, Name = "reprice" }.Start();
        new Thread(Publish) { IsBackground = true, Name = "publish" }.Start();
    }

    private static void Reprice()
    {
        lock (s_prices)
        {
            s_bothHoldOne.SignalAndWait();
            using (s_catalog.EnterScope()) // @dl.reprice.lock
                Console.Error.WriteLine("repriced");
        }
    }

    private static void Publish()
    {
        lock (s_catalog)
        {
            s_bothHoldOne.SignalAndWait();
            using (s_prices.EnterScope()) // @dl.publish.lock
                Console.Error.WriteLine("published");
        }
    }
}

/// <summary>A cache and its index, each behind a ReaderWriterLockSlim: a refresh writes the cache then the index, a rebuild the index then the cache.</summary>
internal static class CacheIndex
{
    private static readonly ReaderWriterLockSlim s_cache = new();
    private static readonly ReaderWriterLockSlim s_index = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Refresh) { IsBackground = true, Name = "refresh" }.Start();
        new Thread(Rebuild) { IsBackground = true, Name = "rebuild" }.Start();
    }

    private static void Refresh()
    {
        s_cache.EnterWriteLock();
        s_bothHoldOne.SignalAndWait();
        s_index.EnterWriteLock(); // @dl.refresh.write
        s_index.ExitWriteLock();
        s_cache.ExitWriteLock();
    }

    private static void Rebuild()
    {
        s_index.EnterWriteLock();
        s_bothHoldOne.SignalAndWait();
        s_cache.EnterWriteLock(); // @dl.rebuild.write
        s_cache.ExitWriteLock();
        s_index.ExitWriteLock();
    }
}

/// <summary>
/// Not a deadlock, requests piled behind one: a restock holds the stock gate while it waits for a supplier that does
/// not answer, and twelve reservations queue for the gate behind it.
/// </summary>
internal sealed class Reservations
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TaskCompletionSource<int> _supplier = new();

    public static void Start()
    {
        var reservations = new Reservations();
        _ = reservations.RestockAsync();
        for (var item = 1; item <= 12; item++)
            _ = reservations.ReserveAsync(item);
    }

    private async Task RestockAsync()
    {
        await _gate.WaitAsync();
        try
        {
            var delivered = await _supplier.Task; // @dl.supplier.await
            Console.Error.WriteLine($"delivered {delivered}");
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReserveAsync(int item)
    {
        await _gate.WaitAsync(); // @dl.reserve.wait
        try
        {
            Console.Error.WriteLine($"reserved {item}");
        }
        finally
        {
            _gate.Release();
        }
    }
}
