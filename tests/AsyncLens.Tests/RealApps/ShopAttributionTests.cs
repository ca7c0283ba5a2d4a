using System.Globalization;
using System.Text.Json;
using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on the ASP.NET Core corpus app (tests/RealApps/ShopApi), Debug and Release builds: which code a slow
/// stretch is blamed on, and the fix it gets. Each seeded bug is requested on new connections (one per request, as
/// curl makes them: the request starts outside any step) and on one kept-alive connection (inside Kestrel's request
/// loop), with healthy requests in between, which must stay silent. On .NET 10 and, the suite's second leg, on
/// ASP.NET Core 11 / .NET 11 (<c>runtime</c> "net11").
/// </summary>
public sealed class ShopAttributionTests
{
    private const string HashFix =
        "`SHA256.HashData` computes over data already in memory (its async twin `SHA256.HashDataAsync` reads a stream): CPU-bound work; "
        + "move it off the async path with `await Task.Run(() => ...)`";

    private const string LoopFix =
        "this loop runs on the async path for the whole stretch without awaiting: if it is CPU-bound, move it off with "
        + "`await Task.Run(() => ...)`; if it waits for something, await it instead";

    private const string OnCpuFix =
        "the thread computed for most of this stretch without awaiting (the code does not tell which call did): "
        + "move the CPU-bound work off the async path with `await Task.Run(() => ...)`";

    // The sync handler, a lambda of the top-level program, as MethodNames names it (by its route once the app's
    // endpoints say it: ShopApi's first host is its stock service's, whose endpoints do not list it).
    private static string SyncStockHandler => $"Program.Main lambda at Program.cs:{s_at["shop.sync-stock.wait"].Line}";

    // A sync handler blocking on HttpClient's own task (HttpClient.GetStringAsync, through no async method of the app's).
    private static string SyncRawHandler => $"Program.Main lambda at Program.cs:{s_at["shop.sync-raw.wait"].Line}";

    // A handler hashing in a method of the app's, then reading through Npgsql and Dapper (Orders.cs).
    private const string LabelHandler = "Orders.GetLabelAsync(int, OrderStore, CancellationToken)";

    // A synchronous action of an MVC controller (Prices.cs), blocking twice on the price feed's answers.
    private const string TotalAction = "PricesController.Total()";

    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "ShopApi"));

    // One run of the app per build and runtime, shared by the tests of this class.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), Lazy<Task<List<JsonElement>>>> s_runs = new();

    // The first /orders/1 is Npgsql's first connection and Dapper's first query (building its reader): 0.15-0.2 s of a
    // step of GetOrderAsync, most of it the process compiling, which no path may report (on the async events it was a
    // slow-step of GetOrderAsync, issue 14).
    private static readonly string[] s_requests =
    [
        "/health", "/bug/branch/csv", "/product/3", "/bug/hash/64", "/bug/hash/64", "/bug/spin/300", "/bug/sync-stock/5", "/bug/sync-raw/6", "/bug/total", "/health",
        "/orders/1", "/bug/label/7",
    ];

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    public async Task Item3_a_slow_stretch_is_not_blamed_on_a_branch_that_did_not_run(string configuration, string runtime = "net10")
    {
        // The csv branch ran (300 ms of CPU in RenderCsv); neither File.ReadAllText of the other branches may be named,
        // and nothing tells which call of the csv branch took the time: no line, the fix says the time was computing.
        var reports = await Run(configuration, runtime);
        var exports = Of(reports, "Reports.ExportAsync(string, InventoryClient)");
        foreach (var export in exports)
        {
            Same("slow-step", export.Kind(), export);
            Same(At("shop.export.resumed"), export.At("resumedAt"), export);
            Same(At("shop.export.resumed"), export.At("location"), export);
            Same(At("shop.export.end"), export.At("stoppedAt"), export);
            Same(OnCpuFix, export.GetProperty("fix").GetString(), export);
        }
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    [InlineData("Debug", "net11-events-only")]
    public async Task Item5_a_CPU_heavy_handler_whose_await_completed_at_once_is_named_not_Kestrel(string configuration, string runtime = "net10")
    {
        var reports = await Run(configuration, runtime);
        var hashes = Of(reports, "Reports.HashCatalogAsync(int, CatalogCache)", atLeast: 2);
        foreach (var hash in hashes)
        {
            Same("slow-step", hash.Kind(), hash);
            Assert.True(hash.GetProperty("firstStep").GetBoolean());
            Assert.Equal(0, hash.GetProperty("taskId").GetInt32());
            Same(At("shop.hash.cpu"), hash.At("location"), hash);
            Same(At(configuration == "Debug" ? "shop.hash.start" : "shop.hash.first"), hash.At("resumedAt"), hash); // Release: no line for the brace
            Same(At("shop.hash.end"), hash.At("stoppedAt"), hash);
            Same(HashFix, hash.GetProperty("fix").GetString(), hash);
            Same($"Reports.HashCatalogAsync(int, CatalogCache) at {At("shop.hash.cpu")}", hash.Stack()[^1], hash);
        }
        Assert.DoesNotContain(reports, r => r.Method().StartsWith("HttpProtocol.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    public async Task Item5_a_synchronous_handler_blocking_on_Result_is_named_on_either_kind_of_connection(string configuration, string runtime = "net10")
    {
        var reports = await Run(configuration, runtime);
        var waits = reports.Where(r => r.Kind() == "blocking-wait" && r.Method() == SyncStockHandler && !r.IsRepeats()).ToList();
        Assert.True(waits.Count >= 1 && Occurrences(reports, r => r.Kind() == "blocking-wait" && r.Method() == SyncStockHandler) == 2, Reports.Describe(reports));
        foreach (var wait in waits)
        {
            Same(SyncStockHandler, wait.Method(), wait);
            Same(At("shop.sync-stock.wait"), wait.At("location"), wait);
            Same($"{SyncStockHandler} at {At("shop.sync-stock.wait")}", wait.Stack()[^1], wait);
            // Created where the app registered it, as a slow-step of the handler says: not unknown because the step it
            // ran in (Kestrel's, or none on a new connection) was the framework's.
            Same(At("shop.sync-stock.map"), wait.At("createdAt"), wait);
        }
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    public async Task A_blocking_wait_on_the_BCLs_own_async_method_names_that_method_on_either_runtime(string configuration, string runtime = "net10")
    {
        // HttpClient.GetStringAsyncCore is a state machine's box on .NET 10 and a runtime-async chain on .NET 11 (its task
        // the chain's): the task waited for is named by its method either way (on .NET 11 it was named by the chain's
        // dispatcher, `AsyncHelpers.RuntimeAsyncTask<string>.DispatchContinuations()`).
        var reports = await Run(configuration, runtime);
        var waits = reports.Where(r => r.Kind() == "blocking-wait" && r.Method() == SyncRawHandler && !r.IsRepeats()).ToList();
        Assert.True(waits.Count >= 1 && Occurrences(reports, r => r.Kind() == "blocking-wait" && r.Method() == SyncRawHandler) == 2, Reports.Describe(reports));
        foreach (var wait in waits)
        {
            Same(At("shop.sync-raw.wait"), wait.At("location"), wait);
            var waitingOn = wait.GetProperty("waitingOn");
            Same($"task {waitingOn.GetProperty("taskId").GetInt32()} (HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken))",
                waitingOn.GetProperty("description").GetString(), wait);
        }
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    public async Task A_synchronous_MVC_action_blocking_on_Result_gets_its_blocking_waits_and_no_slow_step(string configuration, string runtime = "net10")
    {
        // Two waits a request (on tasks a TaskCompletionSource completes, as StackExchange.Redis answers: no event says
        // when), two requests: blocking-waits at the action's line, the first in full and the others as its repeats. Its
        // 20 ms of its own do not make it slow: before, its stretch was judged with its last wait counted in (0.13-0.30 s
        // slow-steps beside the blocking-waits, every request).
        var reports = await Run(configuration, runtime);
        var total = reports.Where(r => r.Method() == TotalAction).ToList();
        Assert.True(total.Count >= 1 && total.All(r => r.Kind() == "blocking-wait") && Occurrences(reports, r => r.Method() == TotalAction) == 4, Reports.Describe(reports));
        foreach (var wait in total.Where(r => !r.IsRepeats()))
        {
            Same(At("shop.total.wait"), wait.At("location"), wait);
            Same($"{TotalAction} at {At("shop.total.wait")}", wait.Stack()[^1], wait);
        }
        Assert.DoesNotContain(reports, r => r.Kind() == "slow-step" && r.Method().StartsWith("PricesController.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    public async Task Item6_a_stretch_whose_time_went_to_its_own_loop_is_told_about_the_loop(string configuration, string runtime = "net10")
    {
        // The loop took the time, not the Deserialize call before it (whose async twin takes a stream, not a string).
        var reports = await Run(configuration, runtime);
        foreach (var spin in Of(reports, "Reports.SpinAsync(int, InventoryClient)"))
        {
            Same(At("shop.spin.loop"), spin.At("location"), spin);
            // On a busy machine the stock lookup (20 ms) can end before the thread that started it reaches its await: the
            // method then runs to its end in its first step, rightly reported from its start (a Release build has no
            // line for the brace).
            var firstStep = spin.TryGetProperty("firstStep", out var first) && first.GetBoolean();
            Same(At(firstStep && configuration == "Debug" ? "shop.spin.start" : "shop.spin.resumed"), spin.At("resumedAt"), spin);
            Same(At("shop.spin.end"), spin.At("stoppedAt"), spin);
            Same(LoopFix, spin.GetProperty("fix").GetString(), spin);
        }
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    public async Task A_handler_hashing_in_a_method_of_the_apps_then_awaiting_a_packages_async_API_is_named_at_that_call(string configuration, string runtime = "net10")
    {
        // 300 ms hashing in Labels.Render, then Npgsql's OpenConnectionAsync and Dapper's QuerySingleOrDefaultAsync, which
        // park on the database: the packages' async APIs are made not to hold the thread, so the app's call is named. On a
        // new connection the park made Npgsql's box first: the request was judged there, before the handler's (was not
        // reported at all, nor was it on a kept-alive connection).
        var reports = await Run(configuration, runtime);
        foreach (var label in Of(reports, LabelHandler, atLeast: 2))
        {
            Same("slow-step", label.Kind(), label);
            Assert.True(label.GetProperty("firstStep").GetBoolean());
            Same(At("shop.label.render"), label.At("location"), label);
            Same(At(configuration == "Debug" ? "shop.label.start" : "shop.label.first"), label.At("resumedAt"), label); // Release: no line for the brace
            // Where it parked: opening the connection, or (one open in the pool) the query; or, the database's answer
            // already read when the query was sent, its end.
            Assert.True(label.At("stoppedAt") == At("shop.label.open") || label.At("stoppedAt") == At("shop.label.read") || label.At("stoppedAt") == At("shop.label.end"), label.ToString());
            Same("`Labels.Render(int)` runs on the async path for the whole stretch: if it is CPU-bound, move it off with `await Task.Run(() => ...)`; if it does I/O, call its async API",
                label.GetProperty("fix").GetString(), label);
            Same($"{LabelHandler} at {At("shop.label.render")}", label.Stack()[^1], label);
        }
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", "net11-events")]
    [InlineData("Release", "net11-events")]
    [InlineData("Debug", "net11-events-only")]
    public async Task Healthy_requests_and_Kestrel_itself_get_no_report(string configuration, string runtime = "net10")
    {
        var reports = await Run(configuration, runtime);
        string[] seeded = ["Reports.ExportAsync(string, InventoryClient)", "Reports.HashCatalogAsync(int, CatalogCache)", "Reports.SpinAsync(int, InventoryClient)", SyncStockHandler, SyncRawHandler, TotalAction, LabelHandler];
        Assert.True(reports.All(r => seeded.Contains(r.Method())), Reports.Describe(reports));
    }

    // The reports of one method: at least one (the bug was requested twice), described with all reports if not.
    private static List<JsonElement> Of(List<JsonElement> reports, string method, int atLeast = 1)
    {
        // The second request of a path comes as a repeat of the first's site (same method and line), counted.
        var found = reports.Where(r => r.Method() == method && !r.IsRepeats()).ToList();
        Assert.True(found.Count >= 1 && Occurrences(reports, r => r.Method() == method) >= atLeast, Reports.Describe(reports));
        return found;
    }

    // Full reports, plus the repeats counted in summaries.
    private static int Occurrences(List<JsonElement> reports, Func<JsonElement, bool> match) =>
        reports.Where(match).Sum(r => r.IsRepeats() ? r.GetProperty("repeats").GetInt32() : 1);

    // "net11-events": on .NET 11 with debug mode's steps from the runtime's async events (ASYNCLENS_STEP_SOURCE);
    // "net11-events-only": on them alone (no TPL events: request frames from hosting's DiagnosticListener).
    private const string AsyncEventsSuffix = "-events", AsyncEventsOnlySuffix = "-events-only";

    private static Task<List<JsonElement>> Run(string configuration, string runtime) =>
        s_runs.GetOrAdd((configuration, runtime), c => new Lazy<Task<List<JsonElement>>>(() =>
            c.Item2.EndsWith(AsyncEventsOnlySuffix, StringComparison.Ordinal) ? RunAsync(c.Item1, TargetRuntime.Named(c.Item2[..^AsyncEventsOnlySuffix.Length]), "async-events-only")
            : c.Item2.EndsWith(AsyncEventsSuffix, StringComparison.Ordinal) ? RunAsync(c.Item1, TargetRuntime.Named(c.Item2[..^AsyncEventsSuffix.Length]), "async-events")
            : RunAsync(c.Item1, TargetRuntime.Named(c.Item2), null))).Value;

    // Starts ShopApi under debug mode (JSON), requests each path on new connections and then on one kept-alive
    // connection, stops it, and returns its reports.
    private static async Task<List<JsonElement>> RunAsync(string configuration, TargetRuntime runtime, string? stepSource)
    {
        Task? client = null;
        var result = ChildProcess.DotnetInteractive(
            [Repo.Program("ShopApi", configuration)],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
                ["ASYNCLENS_FORMAT"] = "json",
                ["ASYNCLENS_STEP_SOURCE"] = stepSource,
                ["SHOP_PG"] = Servers.Postgres,
            },
            line =>
            {
                if (line.StartsWith("listening ", StringComparison.Ordinal) && line.Split(' ') is [_, var pid, var url])
                    client = Task.Run(() => RequestThenStop(int.Parse(pid, CultureInfo.InvariantCulture), url, s_requests));
            },
            runtime);
        Assert.NotNull(client);
        await client;
        Assert.True(result.ExitCode == 0, result.ToString());
        return Reports.Parse(result.Stderr);
    }

    private static async Task RequestThenStop(int pid, string url, string[] requests)
    {
        try
        {
            using (var fresh = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) })
            {
                fresh.DefaultRequestHeaders.ConnectionClose = true;
                foreach (var path in requests)
                    (await fresh.GetAsync(path)).EnsureSuccessStatusCode();
            }
            using var kept = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            foreach (var path in requests)
                (await kept.GetAsync(path)).EnsureSuccessStatusCode();
            await Task.Delay(300);
        }
        finally
        {
            Signals.Send("-TERM", pid);
        }
    }

    // An expected value, with the whole report when it is not what the report says.

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
