using Microsoft.Extensions.Logging;
using Orleans;
using Polly;
using Polly.Retry;

namespace Grains;

public interface ICartGrain : IGrainWithStringKey
{
    Task<int> AddItem(string sku, int quantity);
    Task<decimal> Checkout();
    Task Close();
}

public interface IPricingGrain : IGrainWithStringKey
{
    Task<decimal> PriceOf(string sku);
}

public sealed class CartGrain(ILogger<CartGrain> log) : Grain, ICartGrain
{
    private readonly Dictionary<string, int> _items = new();

    public async Task<int> AddItem(string sku, int quantity)
    {
        var price = await GrainFactory.GetGrain<IPricingGrain>("list").PriceOf(sku);
        if (price <= 0)
            throw new InvalidOperationException($"no price for {sku}");
        _items[sku] = _items.GetValueOrDefault(sku) + quantity;
        return _items.Count;
    }

    public async Task<decimal> Checkout()
    {
        var pricing = GrainFactory.GetGrain<IPricingGrain>("list");
        decimal total = 0;
        foreach (var (sku, quantity) in _items)
            total += pricing.PriceOf(sku).Result * quantity; // @grains.checkout.wait
        await Task.Yield();
        log.LogInformation("cart {Cart} checked out: {Total}", this.GetPrimaryKeyString(), total);
        return total;
    }

    // The cart is done with: its activation goes at the end of this call (Orleans drops its message loop then).
    public Task Close()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

public sealed class PricingGrain : Grain, IPricingGrain
{
    private static readonly ResiliencePipeline s_retry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.FromMilliseconds(50) })
        .Build();

    public async Task<decimal> PriceOf(string sku)
    {
        return await s_retry.ExecuteAsync(async token => // @grains.price.retry
        {
            await Task.Delay(20, token);
            return sku.StartsWith("bundle-", StringComparison.Ordinal) ? BundlePrice(sku) : sku.Length * 1.5m; // @grains.price.bundle
        });
    }

    // A bundle's price folds every component's list price: CPU work inside the grain's turn.
    private static decimal BundlePrice(string sku)
    {
        long folded = 17;
        for (var i = 0; i < 80_000_000; i++)
            folded = folded * 31 + sku[i % sku.Length];
        return Math.Abs(folded % 1000) + 1;
    }
}
