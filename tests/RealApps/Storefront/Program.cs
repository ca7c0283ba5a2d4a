// Storefront: an ASP.NET Core minimal API (middleware, IHttpClientFactory with a handler of its own, Task.Run, a
// WhenAll fan-out) on Npgsql + Dapper (STORE_PG) and StackExchange.Redis (STORE_REDIS), that counts its own async calls
// (Calls.cs): GET /calls lists them, POST /calls/reset starts again, and they are printed when it stops.
// Prints "listening PID URL" once it listens; SIGTERM (or Ctrl+C) ends it.
// Endpoints: /product/{id}, /products?ids=1,2,3, /page/{id}, /price/{id}, POST /restock/{id}; /reviews/{id} serves the reviews.
using Storefront;

var store = await Store.ConnectAsync();
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Services.AddSingleton(store);
builder.Services.AddScoped<Catalog>();
builder.Services.AddTransient<Tracing>();
builder.Services.AddHttpClient<Reviews>(http => http.BaseAddress = Self.Url).AddHttpMessageHandler<Tracing>();
var app = builder.Build();
app.UseMiddleware<Timing>();

// The lambdas on one line each: the line that names a lambda (its body's first, from the PDB) is the same in both builds.
app.MapGet("/product/{id:int}", async (int id, Catalog catalog) => { using var call = Calls.Enter("lambda:store.product"); return await catalog.GetProductAsync(id); }); // @store.product
// The lookups are all started in the lambda's first step, before it waits for the first time.
app.MapGet("/products", async (string ids, Store store) => { using var call = Calls.Enter("lambda:store.products"); return await Task.WhenAll(ids.Split(',').Select(int.Parse).Select(store.LoadAsync).ToList()); }); // @store.products
app.MapGet("/page/{id:int}", (int id, Catalog catalog) => catalog.GetPageAsync(id));
app.MapGet("/price/{id:int}", (int id, Catalog catalog) => catalog.GetPriceAsync(id));
app.MapPost("/restock/{id:int}", async (int id, Catalog catalog) => { using var call = Calls.Enter("lambda:store.restock"); await Restocking.RunAsync(id, catalog); return Results.Accepted(); }); // @store.restock
app.MapGet("/reviews/{id:int}", (int id) => $"reviews of {id}: none yet");
app.MapGet("/calls", Calls.Report);
app.MapPost("/calls/reset", Calls.Reset);
app.Lifetime.ApplicationStopping.Register(() => Console.Out.Write("stopping\n" + Calls.Report()));

await app.StartAsync();
Self.Url = new Uri(app.Urls.First());
Console.WriteLine($"listening {Environment.ProcessId} {Self.Url}");
await app.WaitForShutdownAsync();
