using System.Net.Http.Json;

namespace ShopApi;

/// <summary>The stock service: a second Kestrel in the same process, reached over loopback HTTP.</summary>
internal sealed class InventoryBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InventoryBackend(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    public static async Task<InventoryBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/stock/{id:int}", async (int id, int? delayMs, CancellationToken aborted) =>
        {
            await Task.Delay(delayMs ?? 2, aborted);
            return new Stock(id, 100 - id % 100);
        });
        await app.StartAsync();
        return new InventoryBackend(app, new Uri(app.Urls.First()));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal sealed record Stock(int ProductId, int Available);

/// <summary>A typed client (IHttpClientFactory) for the stock service.</summary>
internal sealed class InventoryClient(HttpClient http)
{
    public async Task<int> GetStockAsync(int productId, int delayMs = 2, CancellationToken cancellationToken = default)
    {
        var stock = await http.GetFromJsonAsync<Stock>($"stock/{productId}?delayMs={delayMs}", cancellationToken); // @shop.stock.get
        return stock?.Available ?? 0;
    }

    // The stock service's answer as it came: HttpClient's own async code (runtime-async on .NET 11) behind no method of the app's.
    public Task<string> GetRawAsync(int productId, int delayMs) => http.GetStringAsync($"stock/{productId}?delayMs={delayMs}");
}
