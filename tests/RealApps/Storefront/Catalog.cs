using System.Collections.Concurrent;
using System.Text.Json;

namespace Storefront;

/// <summary>Products through a Redis cache in front of PostgreSQL; prices in a dictionary in front of PostgreSQL.</summary>
internal sealed class Catalog(Store store, Reviews reviews)
{
    private static readonly ConcurrentDictionary<int, decimal> s_prices = new();

    public async Task<Product> GetProductAsync(int id)
    {
        using var call = Calls.Enter("Catalog.GetProductAsync(int)");
        if (await CachedAsync(id) is { } cached)
            return cached;
        var product = await store.LoadAsync(id);
        await StoreAsync(product);
        return product;
    }

    // A hit in the dictionary returns without waiting: a call no runtime event marks.
    public async Task<decimal> GetPriceAsync(int id)
    {
        using var call = Calls.Enter("Catalog.GetPriceAsync(int)");
        if (s_prices.TryGetValue(id, out var price))
            return price;
        return s_prices[id] = await store.LoadPriceAsync(id);
    }

    /// <summary>The product (from the database) and its reviews, side by side: both started before either is awaited.</summary>
    public async Task<object> GetPageAsync(int id)
    {
        using var call = Calls.Enter("Catalog.GetPageAsync(int)");
        var said = reviews.GetAsync(id);
        var product = store.LoadAsync(id);
        await Task.WhenAll(product, said);
        return new { product = await product, reviews = await said };
    }

    public async Task RefreshAsync(int id)
    {
        using var call = Calls.Enter("Catalog.RefreshAsync(int)");
        await StoreAsync(await store.LoadAsync(id));
    }

    private async Task<Product?> CachedAsync(int id)
    {
        using var call = Calls.Enter("Catalog.CachedAsync(int)");
        var json = await store.Cache.StringGetAsync($"product:{id}");
        return json.IsNullOrEmpty ? null : JsonSerializer.Deserialize<Product>(json.ToString());
    }

    private async Task StoreAsync(Product product)
    {
        using var call = Calls.Enter("Catalog.StoreAsync(Product)");
        await store.Cache.StringSetAsync($"product:{product.Id}", JsonSerializer.Serialize(product), TimeSpan.FromMinutes(5));
    }
}

/// <summary>A restock reads the database on a thread-pool thread, as CPU-heavy work would run.</summary>
internal static class Restocking
{
    public static Task RunAsync(int id, Catalog catalog) =>
        Task.Run(async () => { using var run = Calls.Run("lambda:store.restock.run"); await catalog.RefreshAsync(id); }); // @store.restock.run
}

/// <summary>Reviews from a service over HTTP (IHttpClientFactory), through a handler of the app's own in the client's pipeline.</summary>
internal sealed class Reviews(HttpClient http)
{
    public async Task<string> GetAsync(int id)
    {
        using var call = Calls.Enter("Reviews.GetAsync(int)");
        return await http.GetStringAsync($"/reviews/{id}");
    }
}

/// <summary>A DelegatingHandler: the app's code, called by HttpClient's between two of the app's methods.</summary>
internal sealed class Tracing : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var call = Calls.Enter("Tracing.SendAsync(HttpRequestMessage, CancellationToken)");
        request.Headers.Add("X-Trace", Guid.NewGuid().ToString("N"));
        return await base.SendAsync(request, cancellationToken);
    }
}

/// <summary>The app's own address, once it listens (the reviews service is the app itself).</summary>
internal static class Self
{
    public static Uri? Url { get; set; }
}

/// <summary>Middleware: times every request.</summary>
internal sealed class Timing(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        using var call = Calls.Enter("Timing.InvokeAsync(HttpContext)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await next(context);
        context.Items["elapsed"] = clock.Elapsed;
    }
}
