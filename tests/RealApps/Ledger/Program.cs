using FastEndpoints;
using Grpc.Core;
using Grpc.Net.Client;
using Ledger;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

// A gRPC service, a SignalR hub and a FastEndpoints endpoint, and their clients, in one process. `dotnet Ledger.dll
// [all|healthy]`: three rounds of a balance lookup (gRPC), a server stream of three ticks, a statement pushed to the hub's
// clients and ("all") the seeded bugs: an audit handler and a hub method that block their thread, a server stream that
// computes on it, a statement export whose endpoint class renders it on its thread (// @tags).
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2); // gRPC: HTTP/2 without TLS
    k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1); // SignalR: WebSockets
});
builder.Services.AddGrpc();
builder.Services.AddSignalR();
builder.Services.AddSingleton<RateTable>();
builder.Services.AddFastEndpoints();
var app = builder.Build();
app.MapGrpcService<AccountsService>(); // @ledger.grpc.map
app.MapHub<StatementsHub>("/statements"); // @ledger.hub.map
app.UseFastEndpoints();
await app.StartAsync();
var (url, hubUrl) = (app.Urls.ElementAt(0), app.Urls.ElementAt(1));
Console.WriteLine($"listening {Environment.ProcessId} {url}");

var hub = new HubConnectionBuilder().WithUrl(hubUrl + "/statements").Build();
var statements = 0;
hub.On<long>("statement", _ => Interlocked.Increment(ref statements));
await hub.StartAsync();

using var channel = GrpcChannel.ForAddress(url);
using var http = new HttpClient { BaseAddress = new Uri(hubUrl) };
var client = new Accounts.AccountsClient(channel);
var mode = args.Length > 0 ? args[0] : "all";
for (var round = 0; round < 3; round++)
{
    var reply = await client.GetBalanceAsync(new BalanceRequest { Account = round });
    Console.WriteLine($"balance {reply.Account} {reply.Cents}");
    if (mode == "all")
        Console.WriteLine($"audit {(await client.AuditAsync(new BalanceRequest { Account = round })).Cents}");
    if (mode == "all" && round == 0)
    {
        using var reconcile = client.Reconcile(new BalanceRequest { Account = round });
        await foreach (var line in reconcile.ResponseStream.ReadAllAsync())
            Console.WriteLine($"reconciled {line.Cents}");
    }
    using var watch = client.Watch(new BalanceRequest { Account = round });
    await foreach (var tick in watch.ResponseStream.ReadAllAsync())
        Console.WriteLine($"tick {tick.Cents}");
    await hub.InvokeAsync("Publish", round);
    if (mode == "all")
        await hub.InvokeAsync("Archive", round);
    if (mode == "all")
        Console.WriteLine($"export {(await http.GetStringAsync($"/exports/{round}")).Length}");
}
await hub.DisposeAsync();
await app.StopAsync();
Console.WriteLine($"ledger finished ({statements} statements)");

internal sealed class RateTable
{
    private readonly Dictionary<int, long> _cents = [];

    // Yields, so its caller's `.Result` waits while another thread finishes it at once.
    public async Task<long> FeeAsync(int account)
    {
        await Task.Yield();
        return account % 3;
    }

    public async Task<long> LookupAsync(int account)
    {
        await Task.Delay(15);
        lock (_cents)
            return _cents.TryGetValue(account, out var cents) ? cents : _cents[account] = 1000 + account * 7;
    }
}

internal sealed class AccountsService(RateTable rates) : Accounts.AccountsBase
{
    public override async Task<BalanceReply> GetBalance(BalanceRequest request, ServerCallContext context)
    {
        var cents = await rates.LookupAsync(request.Account);
        return new BalanceReply { Account = request.Account, Cents = cents };
    }

    // Seeded: a synchronous handler that waits for a lookup (15 ms) and a fee (at once), then blocks its thread for 200 ms.
    public override Task<BalanceReply> Audit(BalanceRequest request, ServerCallContext context)
    { // @ledger.audit.start
        var cents = rates.LookupAsync(request.Account).Result; // @ledger.audit.wait
        cents += rates.FeeAsync(request.Account).Result; // @ledger.audit.fee
        Thread.Sleep(200); // @ledger.audit.sleep
        return Task.FromResult(new BalanceReply { Account = request.Account, Cents = cents }); // @ledger.audit.return
    } // @ledger.audit.end

    public override async Task Watch(BalanceRequest request, IServerStreamWriter<BalanceReply> responseStream, ServerCallContext context)
    {
        for (var i = 0; i < 3; i++)
        {
            await responseStream.WriteAsync(new BalanceReply { Account = request.Account, Cents = i });
            await Task.Delay(10, context.CancellationToken);
        }
    }

    // Seeded: a server stream whose replies are computed on the call's thread: each round spins 150 ms of its thread's
    // time on a CPU, then writes; a write completes at once while the stream has room, and then nothing parks.
    public override async Task Reconcile(BalanceRequest request, IServerStreamWriter<BalanceReply> responseStream, ServerCallContext context)
    { // @ledger.reconcile.start
        for (var round = 0; round < 2; round++) // @ledger.reconcile.round
        {
            var cents = (long)request.Account;
            var spent = long.Parse(File.ReadAllText(Schedstat).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            while (long.Parse(File.ReadAllText(Schedstat).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) - spent < 150_000_000) // @ledger.reconcile.loop
                cents = (cents * 31 + 7) % 1_000_003;
            await responseStream.WriteAsync(new BalanceReply { Account = request.Account, Cents = cents }); // @ledger.reconcile.write
        }
    } // @ledger.reconcile.end

    // The calling thread's scheduler figures (Linux): its time on a CPU first, in ns. Read in the loop, not through a
    // method of the app's: the loop's one call of the app's would be named instead of the loop.
    private const string Schedstat = "/proc/thread-self/schedstat";
}

internal sealed class StatementsHub(RateTable rates) : Hub
{
    public async Task Publish(int account) => await Clients.All.SendAsync("statement", await rates.LookupAsync(account));

    // Seeded: a synchronous hub method that blocks its thread (SignalR runs it inside its connection's dispatch loop).
    public void Archive(int account)
    { // @ledger.archive.start
        Thread.Sleep(150); // @ledger.archive.sleep
    } // @ledger.archive.end
}

// A FastEndpoints endpoint class: FastEndpoints maps every endpoint to a request delegate of its own, which runs the
// class's HandleAsync. Seeded: the statement is rendered on the request's thread (150 ms of its time on a CPU, in a
// method of the app's) before the only await, which completes at once.
public sealed class StatementExport : EndpointWithoutRequest<string>
{
    public override void Configure()
    {
        Get("/exports/{account}");
        AllowAnonymous();
    }

    public override async Task HandleAsync(CancellationToken ct)
    { // @ledger.export.start
        var statement = Statements.Render(Route<int>("account")); // @ledger.export.render
        await Send.OkAsync(statement, ct); // @ledger.export.send
    } // @ledger.export.end
}

internal static class Statements
{
    public static string Render(int account)
    {
        var cents = (long)account;
        var spent = long.Parse(File.ReadAllText(Schedstat).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        while (long.Parse(File.ReadAllText(Schedstat).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) - spent < 150_000_000)
            cents = (cents * 31 + 7) % 1_000_003;
        return $"statement {account}: {cents}";
    }

    // The calling thread's scheduler figures (Linux): its time on a CPU first, in ns.
    private const string Schedstat = "/proc/thread-self/schedstat";
}
