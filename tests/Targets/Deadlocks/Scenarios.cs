using System.Collections.Concurrent;

namespace Deadlocks;

/// <summary>Prices are quoted in a currency, and the currencies list is ordered by price: each load awaits the other.</summary>
internal static class Catalog
{
    private static Task<string>? s_prices;
    private static Task<string>? s_currencies;

    public static void Start() => _ = PricesAsync();

    private static Task<string> PricesAsync() => s_prices ??= LoadPricesAsync();

    private static Task<string> CurrenciesAsync() => s_currencies ??= LoadCurrenciesAsync();

    private static async Task<string> LoadPricesAsync()
    {
        await Task.Yield();
        var currency = await CurrenciesAsync(); // @dl.prices.await
        return "prices in " + currency;
    }

    private static async Task<string> LoadCurrenciesAsync()
    {
        await Task.Delay(10);
        var prices = await PricesAsync(); // @dl.currencies.await
        return "currencies by " + prices;
    }
}

/// <summary>A journal whose writes wait for the flush in progress, and whose flush writes a checkpoint, synchronously.</summary>
internal static class Journal
{
    private static Task s_flushing = Task.CompletedTask;

    public static void Start() => s_flushing = Task.Run(Flush);

    private static void Flush()
    {
        Thread.Sleep(100); // s_flushing is this flush by now
        WriteAsync("checkpoint").Wait(); // @dl.flush.wait
    }

    private static async Task WriteAsync(string entry)
    {
        await s_flushing; // @dl.write.await
        Console.Error.WriteLine(entry);
    }
}

/// <summary>A UI-style loop: one thread runs everything posted to its context, a click handler among it.</summary>
internal sealed class UiLoop : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

    public static void Start()
    {
        var loop = new UiLoop();
        new Thread(() =>
        {
            SetSynchronizationContext(loop);
            loop.Post(_ => OnClick(), null);
            foreach (var (callback, state) in loop._queue.GetConsumingEnumerable())
                callback(state);
        }) { IsBackground = true, Name = "ui" }.Start();
    }

    public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

    private static void OnClick()
    {
        var title = LoadTitleAsync().Result; // @dl.click.result
        Console.Error.WriteLine(title);
    }

    private static async Task<string> LoadTitleAsync()
    {
        await Task.Delay(50); // @dl.title.await
        return "title";
    }
}
