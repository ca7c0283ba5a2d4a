// ShopApi: an ASP.NET Core minimal API on a free loopback port, written the way services are written.
// Prints "listening PID URL" once both Kestrel servers listen; SIGTERM (or Ctrl+C) ends it.
//   SHOP_PG      a PostgreSQL connection string: maps /orders/* (Npgsql + Dapper); without it they answer 503
//   SHOP_REFRESH the BackgroundService's period in ms (default 200)
// Healthy endpoints: /health, /product/{id}, /products?ids=1,2,3, /catalog/stream, /config, /orders/{id}.
// Endpoints under /bug/ are seeded bugs at lines marked "// @tag"; /park and /release hold requests in flight
// (/park/sync blocks its thread on the parked task, /park/then continues it with ContinueWith).
using ShopApi;

var inventory = await InventoryBackend.StartAsync();

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Services.AddHttpClient<InventoryClient>(http => http.BaseAddress = inventory.Url);
builder.Services.AddSingleton<ConfigCache>();
builder.Services.AddSingleton<Parking>();
builder.Services.AddSingleton<SearchIndex>();
builder.Services.AddSingleton<CatalogCache>();
builder.Services.AddSingleton(OrderStore.FromEnvironment());
builder.Services.AddHostedService<StockRefresher>();
builder.Services.AddSingleton<PriceFeed>();
// MVC's core alone: AddControllers would also put the authentication and authorization middleware in every request.
builder.Services.AddMvcCore();
// Requests held on purpose (/park, a slow config load, a spinning handler) do not end by themselves: SIGTERM gives
// them 2 s, not the host's default 30 s (the tests end the app so after each run).
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));

var app = builder.Build();
app.UseMiddleware<RequestTiming>();

app.MapGet("/health", () => "ok");
app.MapGet("/product/{id:int}", Catalog.GetProductAsync);
app.MapGet("/products", Catalog.GetProductsAsync);
app.MapGet("/catalog/stream", Catalog.StreamAsync);
app.MapGet("/config", async (ConfigCache cache) => await cache.GetAsync()); // @shop.config.get
app.MapGet("/orders/{id:int}", Orders.GetOrderAsync);
app.MapGet("/orders/{id:int}/total", Orders.GetTotalAsync);
app.MapGet("/park", (Parking parking, CancellationToken aborted) => parking.WaitAsync(aborted));
app.MapGet("/park/product/{id:int}", (int id, Parking parking, CancellationToken aborted) => parking.HoldAsync(new Product(id, "held", 0), aborted));
app.MapGet("/park/sync", (Parking parking, CancellationToken aborted) => parking.WaitAsync(aborted).Result); // @shop.park.sync
app.MapGet("/park/then", (Parking parking, CancellationToken aborted) =>
    parking.WaitAsync(aborted).ContinueWith(parked => parked.Result.ToUpperInvariant(), TaskScheduler.Default)); // @shop.park.then
app.MapPost("/release", (Parking parking) => parking.ReleaseAll());

// Seeded bugs.
app.MapGet("/bug/sync-stock/{id:int}", (int id, InventoryClient stock) => // @shop.sync-stock.map
    stock.GetStockAsync(id, delayMs: 300).Result); // @shop.sync-stock.wait
app.MapGet("/bug/sync-raw/{id:int}", (int id, InventoryClient stock) => stock.GetRawAsync(id, delayMs: 300).Result); // @shop.sync-raw.wait
app.MapGet("/bug/hash/{kb:int}", Reports.HashCatalogAsync);
app.MapGet("/bug/spin/{ms:int}", Reports.SpinAsync);
app.MapGet("/bug/interest/{ms:int}", Reports.InterestTable);
app.MapGet("/bug/branch/{mode}", Reports.ExportAsync);
app.MapGet("/bug/label/{id:int}", Orders.GetLabelAsync);
app.MapPost("/bug/reindex", (SearchIndex search) =>
{
    _ = search.ReindexAsync(); // @shop.reindex.forget
    return Results.Accepted();
});
// A second caller of ReindexAsync: its one call site no longer tells which code started a task of it.
app.MapPost("/admin/reindex", async (SearchIndex search) => await search.ReindexAsync());

app.MapControllers(); // PricesController (Prices.cs): /bug/total

await app.StartAsync();
Console.WriteLine($"listening {Environment.ProcessId} {app.Urls.First()}");
await app.WaitForShutdownAsync();
await inventory.DisposeAsync();
