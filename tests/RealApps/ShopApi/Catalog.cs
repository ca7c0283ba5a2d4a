using System.Runtime.CompilerServices;

namespace ShopApi;

internal sealed record Product(int Id, string Name, int Available);

/// <summary>Healthy handlers: every wait is an await.</summary>
internal static class Catalog
{
    public static async Task<Product> GetProductAsync(int id, InventoryClient inventory, CancellationToken aborted)
    {
        var available = await inventory.GetStockAsync(id, cancellationToken: aborted);
        return new Product(id, $"product {id}", available);
    }

    public static async Task<Product[]> GetProductsAsync(string ids, InventoryClient inventory, CancellationToken aborted)
    {
        var lookups = ids.Split(',').Select(int.Parse).Select(id => GetProductAsync(id, inventory, aborted));
        return await Task.WhenAll(lookups);
    }

    public static async IAsyncEnumerable<Product> StreamAsync(InventoryClient inventory, [EnumeratorCancellation] CancellationToken aborted)
    {
        for (var id = 1; id <= 5; id++)
            yield return await GetProductAsync(id, inventory, aborted);
    }
}

/// <summary>
/// Settings loaded once, on first use, by whichever request comes first: every request that arrives
/// meanwhile awaits the same load (one task, many awaiters).
/// </summary>
internal sealed class ConfigCache
{
    private readonly Lazy<Task<Dictionary<string, string>>> _load = new(LoadAsync);

    public Task<Dictionary<string, string>> GetAsync() => _load.Value;

    private static async Task<Dictionary<string, string>> LoadAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(Settings.ConfigLoadSeconds)); // @shop.config.load
        return new Dictionary<string, string> { ["currency"] = "EUR" };
    }
}

/// <summary>Requests held in flight until /release: what a stuck dependency looks like.</summary>
internal sealed class Parking
{
    private TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<string> WaitAsync(CancellationToken aborted)
    {
        await _gate.Task.WaitAsync(aborted); // @shop.park.wait
        return "released";
    }

    public int ReleaseAll()
    {
        Interlocked.Exchange(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
        return 1;
    }
}

internal static class Settings
{
    public static double ConfigLoadSeconds =>
        double.TryParse(Environment.GetEnvironmentVariable("SHOP_CONFIG_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0.05;
}
