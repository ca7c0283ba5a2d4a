using Grpc.Core;
using Grpc.Net.Client;
using Ledger;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// A gRPC service and its client in one process. `dotnet Ledger.dll [all|healthy]`: three rounds of a balance lookup,
// a server stream of three ticks and ("all") the seeded bug: an audit handler that blocks its thread (// @tags).
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
builder.Services.AddGrpc();
builder.Services.AddSingleton<RateTable>();
var app = builder.Build();
app.MapGrpcService<AccountsService>();
await app.StartAsync();
var url = app.Urls.First();
Console.WriteLine($"listening {Environment.ProcessId} {url}");

using var channel = GrpcChannel.ForAddress(url);
var client = new Accounts.AccountsClient(channel);
var mode = args.Length > 0 ? args[0] : "all";
for (var round = 0; round < 3; round++)
{
    var reply = await client.GetBalanceAsync(new BalanceRequest { Account = round });
    Console.WriteLine($"balance {reply.Account} {reply.Cents}");
    if (mode == "all")
        Console.WriteLine($"audit {(await client.AuditAsync(new BalanceRequest { Account = round })).Cents}");
    using var watch = client.Watch(new BalanceRequest { Account = round });
    await foreach (var tick in watch.ResponseStream.ReadAllAsync())
        Console.WriteLine($"tick {tick.Cents}");
}
await app.StopAsync();
Console.WriteLine("ledger finished");

internal sealed class RateTable
{
    private readonly Dictionary<int, long> _cents = [];

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

    // Seeded: a synchronous handler that waits for a lookup (15 ms), then blocks its thread for 200 ms.
    public override Task<BalanceReply> Audit(BalanceRequest request, ServerCallContext context)
    { // @ledger.audit.start
        var cents = rates.LookupAsync(request.Account).Result; // @ledger.audit.wait
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
}
