using System.Collections.Concurrent;

namespace Deadlocks;

/// <summary>
/// A print spooler: a print job holds the printer, a System.Threading.Semaphore of one (a wait handle: its count lives
/// in the runtime's native wait subsystem on Linux), and then locks the queue; a flush locks the queue and then waits
/// for the printer.
/// </summary>
internal static class Spooler
{
    private static readonly Semaphore s_printer = new(1, 1);
    private static readonly object s_queue = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(Print) { IsBackground = true, Name = "print-job" }.Start();
        new Thread(Flush) { IsBackground = true, Name = "flush" }.Start();
    }

    private static void Print()
    {
        s_printer.WaitOne();
        try
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_queue) // @dl.spool.lock
                Console.Error.WriteLine("printed");
        }
        finally
        {
            s_printer.Release(); // @dl.spool.release
        }
    }

    private static void Flush()
    {
        lock (s_queue)
        {
            s_bothHoldOne.SignalAndWait();
            s_printer.WaitOne(); // @dl.spool.wait
            s_printer.Release();
        }
    }
}

/// <summary>
/// A warehouse transfer holds the dock gate (a SemaphoreSlim taken with Wait()) and releases it through a method of its
/// own that also logs the departure; it locks the ledger while it holds the gate. An audit locks the ledger and then
/// waits for the gate.
/// </summary>
internal sealed class Warehouse
{
    private readonly SemaphoreSlim _dock = new(1, 1);
    private readonly object _ledger = new();
    private readonly Barrier _bothHoldOne = new(2);

    public static void Start()
    {
        var warehouse = new Warehouse();
        new Thread(warehouse.Transfer) { IsBackground = true, Name = "transfer" }.Start();
        new Thread(warehouse.Audit) { IsBackground = true, Name = "audit" }.Start();
    }

    private void Transfer()
    {
        _dock.Wait();
        try
        {
            _bothHoldOne.SignalAndWait();
            lock (_ledger) // @dl.dock.lock
                Console.Error.WriteLine("transferred");
        }
        finally
        {
            LeaveDock(); // @dl.dock.leave
        }
    }

    private void LeaveDock()
    {
        Console.Error.WriteLine("truck left");
        _dock.Release();
    }

    private void Audit()
    {
        lock (_ledger)
        {
            _bothHoldOne.SignalAndWait();
            _dock.Wait(); // @dl.dock.wait
            _dock.Release();
        }
    }
}

/// <summary>
/// A loading bay is one SemaphoreSlim, freed by a helper it is passed to: loading holds the bay and then takes the
/// manifest; an inspection takes the manifest and then waits for the bay.
/// </summary>
internal sealed class Bays
{
    private readonly SemaphoreSlim _bay = new(1, 1);
    private readonly object _manifest = new();
    private readonly Barrier _bothHoldOne = new(2);

    public static void Start()
    {
        var bays = new Bays();
        new Thread(bays.Load) { IsBackground = true, Name = "load" }.Start();
        new Thread(bays.Inspect) { IsBackground = true, Name = "inspect" }.Start();
    }

    private void Load()
    {
        _bay.Wait();
        try
        {
            _bothHoldOne.SignalAndWait();
            lock (_manifest) // @dl.bay.lock
                Console.Error.WriteLine("loaded");
        }
        finally
        {
            Free(_bay);
        }
    }

    private static void Free(SemaphoreSlim bay)
    {
        Console.Error.WriteLine("bay free");
        bay.Release();
    }

    private void Inspect()
    {
        lock (_manifest)
        {
            _bothHoldOne.SignalAndWait();
            _bay.Wait(); // @dl.bay.wait
            _bay.Release();
        }
    }
}

/// <summary>
/// Invoices are numbered per series under a SemaphoreSlim looked up by the series' name and kept in a local (no field
/// names it): an issue holds its series' gate and then locks the journal; a year-end close locks the journal and then
/// waits for the same series' gate.
/// </summary>
internal static class Invoices
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> s_series = new();
    private static readonly object s_journal = new();
    private static readonly Barrier s_bothHoldOne = new(2);

    public static void Start()
    {
        new Thread(() => Issue("2026-A")) { IsBackground = true, Name = "issue" }.Start();
        new Thread(() => Close("2026-A")) { IsBackground = true, Name = "close" }.Start();
    }

    private static SemaphoreSlim Series(string name) => s_series.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));

    private static void Issue(string series)
    {
        var gate = Series(series);
        gate.Wait();
        try
        {
            s_bothHoldOne.SignalAndWait();
            lock (s_journal) // @dl.issue.lock
                Console.Error.WriteLine("issued");
        }
        finally
        {
            gate.Release(); // @dl.issue.release
        }
    }

    private static void Close(string series)
    {
        var gate = Series(series);
        lock (s_journal)
        {
            s_bothHoldOne.SignalAndWait();
            gate.Wait(); // @dl.close.wait
            gate.Release();
        }
    }
}

/// <summary>
/// A few requests queued on a semaphore no code holds any more: a voucher import took the gate and returned early
/// without releasing it (no finally), and three redemptions wait for the gate: too few to call the requests stuck.
/// </summary>
internal sealed class Vouchers
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public static void Start()
    {
        var vouchers = new Vouchers();
        vouchers.Import(empty: true);
        for (var voucher = 1; voucher <= 3; voucher++)
            _ = vouchers.RedeemAsync(voucher);
    }

    private void Import(bool empty)
    {
        _gate.Wait();
        if (empty)
            return; // the early return keeps the gate
        _gate.Release();
    }

    private async Task RedeemAsync(int voucher)
    {
        await _gate.WaitAsync(); // @dl.voucher.wait
        try
        {
            Console.Error.WriteLine($"redeemed {voucher}");
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>
/// Not a deadlock, requests piled behind one slow dependency: a thousand quotes each await the same exchange-rate
/// fetch, shared while it runs, and the rate service never answers.
/// </summary>
internal static class Quotes
{
    private static readonly TaskCompletionSource<decimal> s_rateService = new();
    private static Task<decimal>? s_rates;

    public static void Start()
    {
        for (var quote = 1; quote <= 1000; quote++)
            _ = QuoteAsync(quote);
    }

    private static Task<decimal> Rates() => s_rates ??= FetchRatesAsync();

    private static async Task<decimal> FetchRatesAsync() => await s_rateService.Task; // @dl.rates.await

    private static async Task<decimal> QuoteAsync(int quote)
    {
        var rate = await Rates(); // @dl.quote.await
        return quote * rate;
    }
}

/// <summary>
/// A yard's gate is one SemaphoreSlim, opened by a helper of a helper its finally calls (the first passes the gate to
/// the second): a delivery holds the gate and then takes the weighbridge; a count takes the weighbridge and then waits
/// for the gate.
/// </summary>
internal sealed class Yards
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _weighbridge = new();
    private readonly Barrier _bothHoldOne = new(2);

    public static void Start()
    {
        var yards = new Yards();
        new Thread(yards.Deliver) { IsBackground = true, Name = "deliver" }.Start();
        new Thread(yards.Count) { IsBackground = true, Name = "count" }.Start();
    }

    private void Deliver()
    {
        _gate.Wait();
        try
        {
            _bothHoldOne.SignalAndWait();
            lock (_weighbridge) // @dl.yard.lock
                Console.Error.WriteLine("delivered");
        }
        finally
        {
            CloseYard(); // @dl.yard.close
        }
    }

    private void CloseYard()
    {
        Console.Error.WriteLine("yard closing");
        OpenGate(_gate);
    }

    private static void OpenGate(SemaphoreSlim gate)
    {
        Console.Error.WriteLine("gate open");
        gate.Release();
    }

    private void Count()
    {
        lock (_weighbridge)
        {
            _bothHoldOne.SignalAndWait();
            _gate.Wait(); // @dl.yard.wait
            _gate.Release();
        }
    }
}
