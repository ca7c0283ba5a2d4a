using System.Diagnostics;

namespace ShopApi;

/// <summary>Middleware: times every request and adds a header.</summary>
internal sealed class RequestTiming(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var clock = Stopwatch.StartNew();
        context.Response.OnStarting(() =>
        {
            context.Response.Headers["X-Elapsed-Ms"] = clock.ElapsedMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
        await next(context);
    }
}

/// <summary>A BackgroundService on a PeriodicTimer: refreshes a few stock figures from the stock service.</summary>
internal sealed class StockRefresher(InventoryClient inventory) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = int.TryParse(Environment.GetEnvironmentVariable("SHOP_REFRESH"), out var ms) ? ms : 200;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(period));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var id in new[] { 1, 2, 3 })
                    await inventory.GetStockAsync(id, cancellationToken: stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
