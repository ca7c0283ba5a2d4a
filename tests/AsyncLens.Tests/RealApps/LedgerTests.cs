using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on a gRPC service and a SignalR hub (tests/RealApps/Ledger: Grpc.AspNetCore over HTTP/2, SignalR over
/// WebSockets, their clients in the same process), Debug and Release builds. gRPC runs a service method from its own
/// call handler, not from the endpoint's request delegate: the handler is found from the endpoint's gRPC metadata, also
/// when the call handler parked reading the request first. The seeded audit handler waits 15 ms for a lookup and a moment for a fee that yields (`.Result`: that task
/// completes while the wait is being recorded, which must not make the wait last until the thread's next event),
/// then sleeps 200 ms: the time decides that the sleep blocked it, not the wait that ran first. SignalR runs a
/// synchronous hub method inside its connection's dispatch loop: it is found from SignalR's own activity. A server stream
/// computing between writes that complete at once is named at its loop. Each was created where the app registered its
/// class (MapGrpcService, MapHub): no code of the app's calls it. The healthy
/// calls (a unary lookup, a server stream, a hub method that awaits) stay silent. A FastEndpoints endpoint class computing
/// on its request's thread is named by its HandleAsync.
/// </summary>
public sealed class LedgerTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Ledger"));

    private const string Audit = "AccountsService.Audit(BalanceRequest, ServerCallContext)";
    private const string Archive = "StatementsHub.Archive(int)";
    private const string Reconcile = "AccountsService.Reconcile(BalanceRequest, IServerStreamWriter<BalanceReply>, ServerCallContext)";
    private const string Export = "StatementExport.HandleAsync(CancellationToken)";
    private const string OnCpuFix = "the thread computed for most of this stretch without awaiting (the code does not tell which call did): "
        + "move the CPU-bound work off the async path with `await Task.Run(() => ...)`";
    private const string LoopFix = "this loop runs on the async path for the whole stretch without awaiting: if it is CPU-bound, move it off with "
        + "`await Task.Run(() => ...)`; if it waits for something, await it instead";
    private const string SleepFix = "`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`";

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_gRPC_service_method_and_a_hub_method_that_block_their_thread_are_named_at_the_call_that_took_the_time(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Ledger", configuration), "all"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ledger finished", result.Stdout);
        var reports = Reports.Parse(result.Stderr);
        // Three of each: the first in full, the others as its repeats (or in full, on a machine slow enough to space them out).
        Assert.True(reports.All(r => r.Method() is Audit or Archive or Reconcile or Export), Reports.Describe(reports));
        foreach (var method in new[] { Audit, Archive })
            Assert.True(reports.Where(r => r.Method() == method).Sum(r => r.IsRepeats() ? r.GetProperty("repeats").GetInt32() : 1) == 3, Reports.Describe(reports));
        // The server stream's two computing rounds: one stretch when its first write completed at once (then nothing
        // parked), else one a round. Named at its loop (was not reported: the stream's writes, a package's async API,
        // were taken to be what could have computed).
        Assert.True(reports.Where(r => r.Method() == Reconcile).Sum(r => r.IsRepeats() ? r.GetProperty("repeats").GetInt32() : 1) is 1 or 2, Reports.Describe(reports));
        foreach (var reconcile in reports.Where(r => r.Method() == Reconcile && !r.IsRepeats()))
        {
            Same("slow-step", reconcile.Kind(), reconcile);
            Same(At("ledger.reconcile.loop"), reconcile.At("location"), reconcile);
            Same(reconcile.GetProperty("firstStep").GetBoolean() ? At(configuration == "Debug" ? "ledger.reconcile.start" : "ledger.reconcile.round") : At("ledger.reconcile.write"),
                reconcile.At("resumedAt"), reconcile);
            Same(LoopFix, reconcile.GetProperty("fix").GetString(), reconcile);
            Same(Registered("ledger.grpc.map"), reconcile.CreatedAtIn(), reconcile);
        }
        // FastEndpoints runs the endpoint class from a request delegate of its own: the handler is the class's HandleAsync
        // (was not reported at all: the delegate, a package's lambda, was taken for the handler). Its render call and
        // FastEndpoints' Route<int> could each have computed: no call is named, the time says the thread computed. The
        // first request may be judged warm-up (FastEndpoints' code runs for the first time): one to three.
        Assert.True(reports.Where(r => r.Method() == Export).Sum(r => r.IsRepeats() ? r.GetProperty("repeats").GetInt32() : 1) is >= 1 and <= 3, Reports.Describe(reports));
        foreach (var export in reports.Where(r => r.Method() == Export && !r.IsRepeats()))
        {
            Same("slow-step", export.Kind(), export);
            Assert.True(export.GetProperty("firstStep").GetBoolean(), export.GetRawText());
            var start = At(configuration == "Debug" ? "ledger.export.start" : "ledger.export.render");
            Same(start, export.At("resumedAt"), export);
            Same(start, export.At("location"), export);
            Same(At("ledger.export.end"), export.At("stoppedAt"), export);
            Same(OnCpuFix, export.GetProperty("fix").GetString(), export);
            Same($"{Export} at {start}", export.Stack()[^1], export);
        }
        foreach (var audit in reports.Where(r => r.Method() == Audit && !r.IsRepeats()))
        {
            Same("slow-step", audit.Kind(), audit);
            Same(At("ledger.audit.sleep"), audit.At("location"), audit);
            // A Release build has no line for the braces: its first and last statements instead.
            Same(At(configuration == "Debug" ? "ledger.audit.start" : "ledger.audit.wait"), audit.At("resumedAt"), audit);
            Same(At(configuration == "Debug" ? "ledger.audit.end" : "ledger.audit.return"), audit.At("stoppedAt"), audit);
            Same(SleepFix, audit.GetProperty("fix").GetString(), audit);
            Same($"{Audit} at {At("ledger.audit.sleep")}", audit.Stack()[^1], audit);
            Same(Registered("ledger.grpc.map"), audit.CreatedAtIn(), audit);
        }
        foreach (var archive in reports.Where(r => r.Method() == Archive && !r.IsRepeats()))
        {
            Same("slow-step", archive.Kind(), archive);
            Same(At("ledger.archive.sleep"), archive.At("location"), archive);
            Same(At(configuration == "Debug" ? "ledger.archive.start" : "ledger.archive.sleep"), archive.At("resumedAt"), archive);
            Same(At("ledger.archive.end"), archive.At("stoppedAt"), archive);
            Same(SleepFix, archive.GetProperty("fix").GetString(), archive);
            // Under the connection's dispatch loop, as the async stack shows it.
            Same($"HubConnectionHandler<StatementsHub>.DispatchMessagesAsync(HubConnectionContext)\n{Archive} at {At("ledger.archive.sleep")}",
                string.Join('\n', archive.Stack().TakeLast(2)), archive);
            Same(Registered("ledger.hub.map"), archive.CreatedAtIn(), archive);
        }
    }


    // Run by the framework, called by no code of the app's: created where the app registered its class (was unknown).
    private static string Registered(string tag) => $"{At(tag)} in Program.Main(string[])";


    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
