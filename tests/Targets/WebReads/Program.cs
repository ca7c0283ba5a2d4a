// WebReads: a minimal ASP.NET Core app on a free loopback port, with nothing of AsyncLens in it, for the tests that read
// it from outside while it serves. Prints "listening PID URL" once Kestrel listens; SIGTERM ends it.
//   GET /orders/{id}          answers at once (traffic)
//   GET /orders/{id}/updates  a long poll: parks in the handler until POST /release
//   GET /parked               how many long polls are parked
// With --gc-churn a thread allocates garbage and collects it every 40 ms, moving a live set of 200,000 objects each
// time, as a busy service's heap does: a process stopped from outside is often stopped in the middle of a collection.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Services.AddSingleton<OrderFeed>();
var app = builder.Build();
app.MapGet("/orders/{id:int}", (int id) => $"order {id}");
app.MapGet("/orders/{id:int}/updates", Endpoints.UpdatesAsync);
app.MapGet("/parked", (OrderFeed feed) => feed.Parked);
app.MapPost("/release", (OrderFeed feed) => feed.Release());
if (args.Contains("--gc-churn"))
    new Thread(Churn.Run) { IsBackground = true, Name = "gc churn" }.Start();
await app.StartAsync();
Console.WriteLine($"listening {Environment.ProcessId} {app.Urls.First()}");
await app.WaitForShutdownAsync();

internal static class Endpoints
{
    public static async Task<string> UpdatesAsync(int id, OrderFeed feed, CancellationToken cancel)
    {
        var change = await feed.NextChangeAsync(id, cancel); // @web-reads.handler
        return change;
    }
}

/// <summary>Changes of orders, for long polls: every waiter is released at once by <see cref="Release"/>.</summary>
internal sealed class OrderFeed
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _parked;

    public int Parked => Volatile.Read(ref _parked);

    public async Task<string> NextChangeAsync(int id, CancellationToken cancel)
    {
        Interlocked.Increment(ref _parked);
        try
        {
            return await WaitForChangeAsync(id, cancel); // @web-reads.next
        }
        finally
        {
            Interlocked.Decrement(ref _parked);
        }
    }

    public void Release() => _released.TrySetResult();

    private async Task<string> WaitForChangeAsync(int id, CancellationToken cancel)
    {
        await _released.Task.WaitAsync(cancel); // @web-reads.wait
        return $"order {id} changed";
    }
}

internal static class Churn
{
    // A live set of 200,000 small objects, garbage between them, and a full compacting collection every 40 ms: the
    // collection moves the live set each time, which takes a while.
    public static void Run()
    {
        var live = new object[200_000];
        for (var round = 0; ; round++)
        {
            for (var i = round % 2; i < live.Length; i += 2)
                live[i] = new byte[32];
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            Thread.Sleep(40);
        }
    }
}
