using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AsyncLens.Bench.Web;

/// <summary>
/// <c>AsyncLens.Bench.Web [--port N] [--count-steps]</c>: an order API on Kestrel, bound to 127.0.0.1
/// only (port 0, the default, picks a free port). Once listening it prints <c>LISTENING http://127.0.0.1:PORT</c>
/// on standard output; on shutdown (SIGTERM, Ctrl+C) it prints <c>STATS key=value ...</c>. Endpoints:
/// <list type="bullet">
/// <item><c>GET /orders/{id}</c> (ids 1-20000): an order with its customer and 10-20 priced lines;</item>
/// <item><c>POST /orders</c>: validates and stores a new order, answers 201 with the priced order;</item>
/// <item><c>GET /orders/{id}/updates?timeoutMs=N</c>: a long poll, answered when the order next changes, 204
/// after N ms (default 30 s), or abandoned when the client goes away (see <see cref="OrderUpdates"/>);</item>
/// <item><c>GET /stats</c>: requests served, process CPU time, JIT and GC counters, and whether
/// AsyncLens debug mode is on (see <see cref="ServerStats"/>). Not counted as a request.</item>
/// </list>
/// <c>--count-steps</c> counts the async-method steps and tasks the runtime reports (TPL events, as
/// debug mode sees them) and adds them to <c>/stats</c>; it costs time, so not for timed runs.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var port = 0;
        var countSteps = false;
        for (var i = 0; i < args.Length; i++)
        {
            var ok = args[i] switch
            {
                "--port" => ++i < args.Length && int.TryParse(args[i], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535,
                "--count-steps" => countSteps = true,
                _ => false,
            };
            if (!ok)
            {
                Console.Error.WriteLine("AsyncLens.Bench.Web: bad arguments\nusage: AsyncLens.Bench.Web [--port N] [--count-steps]");
                return 2;
            }
        }

        using var steps = countSteps ? new StepCounter() : null;

        // The content root is the app's own directory: the default (the current directory) would have the
        // configuration's reload-on-change watcher watch whatever tree the benchmark is started from.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // Loopback only, whatever ASPNETCORE_URLS or appsettings say: endpoints set in code win.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJson.Default));
        builder.Services.AddSingleton<Catalog>();
        builder.Services.AddSingleton<OrderStore>();
        builder.Services.AddSingleton<CustomerCache>();
        builder.Services.AddSingleton<OrderUpdates>();
        builder.Services.AddSingleton<OrderService>();
        builder.Services.AddSingleton(services => new ServerStats(steps, new StallMonitor(), services.GetRequiredService<OrderUpdates>()));

        await using var app = builder.Build();
        var stats = app.Services.GetRequiredService<ServerStats>();

        // A metrics middleware, as most services have one: counts the API requests it has seen through.
        app.Use(async (context, next) =>
        {
            await next(context);
            if (!context.Request.Path.StartsWithSegments("/stats", StringComparison.Ordinal))
                stats.CountRequest();
        });

        var orders = app.MapGroup("/orders");
        orders.MapGet("/{id:int}", async Task<Results<Ok<OrderDto>, NotFound>> (int id, OrderService service, CancellationToken cancel) =>
            await service.GetAsync(id, cancel) is { } order ? TypedResults.Ok(order) : TypedResults.NotFound());
        orders.MapPost("/", async Task<Results<Created<OrderDto>, ValidationProblem>> (NewOrderRequest request, OrderService service, CancellationToken cancel) =>
        {
            var (order, errors) = await service.CreateAsync(request, cancel);
            return order is not null ? TypedResults.Created($"/orders/{order.Id}", order) : TypedResults.ValidationProblem(errors!);
        });
        orders.MapGet("/{id:int}/updates", async Task<Results<Ok<OrderDto>, NoContent>> (int id, int? timeoutMs, OrderService service, CancellationToken cancel) =>
            await service.NextUpdateAsync(id, TimeSpan.FromMilliseconds(timeoutMs ?? 30_000), cancel) is { } order ? TypedResults.Ok(order) : TypedResults.NoContent());
        app.MapGet("/stats", () => TypedResults.Ok(stats.Snapshot()));

        await app.StartAsync();
        Console.WriteLine("LISTENING " + string.Join(' ', app.Urls));
        await app.WaitForShutdownAsync();

        Console.WriteLine("STATS " + stats.Snapshot().ToKeyValues());
        return 0;
    }
}
