using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// <c>asynclens pstree / stacks PID</c> on tests/RealApps/ShopApi, an ASP.NET Core app with no AsyncLens in it, in its
/// Debug and Release builds, after traffic: requests that completed (their boxes still on the heap; a Debug build's
/// no longer hold their state machine), then requests held in flight: twenty awaiting one configuration load (fan-in),
/// parked requests (one in a generic method), one continued with ContinueWith, one blocking its thread in
/// <c>.Result</c>. Every method is named exactly (never <c>__Canon</c>), with its line.
/// </summary>
public sealed class RealAppReadTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "ShopApi"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    // A lambda of Program.cs (top-level statements) as it is named: by its method and line.
    private static string Lambda(string tag) => $"Program.Main lambda at {Path.GetFileName(s_at[tag].File)}:{s_at[tag].Line}";

    private const string Kestrel =
        """
        KestrelConnection<ConnectionContext>.ExecuteAsync()
        HttpConnection.ProcessRequestsAsync<HostingApplication.Context>(IHttpApplication<HostingApplication.Context>)
        HttpProtocol.ProcessRequestsAsync<HostingApplication.Context>(IHttpApplication<HostingApplication.Context>)
        HttpProtocol.ProcessRequests<HostingApplication.Context>(IHttpApplication<HostingApplication.Context>)
        """;

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Release", "net11")]
    public async Task A_web_app_after_traffic_reads_with_exact_names_fan_in_and_the_threads_it_blocks(string configuration, string runtime = "net10")
    {
        using var shop = new RunningApp("ShopApi", configuration, new Dictionary<string, string?> { ["SHOP_CONFIG_SECONDS"] = "600" }, TargetRuntime.Named(runtime));
        for (var id = 1; id <= 5; id++)
            await shop.GetAsync($"/product/{id}");
        var released = Enumerable.Range(0, 3).Select(_ => shop.Send("/park")).ToArray();
        while (!Task.WhenAll(released).IsCompleted)
        {
            await shop.PostAsync("/release");
            await Task.WhenAny(Task.WhenAll(released), Task.Delay(200));
        }

        shop.Start("/park");
        shop.Start("/park");
        shop.Start("/park/then");
        shop.Start("/park/product/7");
        shop.Start("/park/sync");
        for (var i = 0; i < 20; i++)
            shop.Start("/config");

        var tree = Read(shop, "pstree");
        Has(Tree(
            $"""
            KestrelConnection<ConnectionContext>.ExecuteAsync() x20
            {Below(Kestrel)}
            RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}
            RequestDelegateFactory.ExecuteTaskOfT<T>(Task<T>, HttpContext, JsonTypeInfo<T>)+ExecuteAwaited(Task<Dictionary<string, string>>, HttpContext, JsonTypeInfo<Dictionary<string, string>>)
            {Lambda("shop.config.get")} at {At("shop.config.get")}
            ConfigCache.LoadAsync() at {At("shop.config.load")} <- one task awaited by 20
            Task.Delay
            """), tree);
        Has(Tree(
            $"""
            KestrelConnection<ConnectionContext>.ExecuteAsync() x2
            {Below(Kestrel)}
            RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}
            RequestDelegateFactory.ExecuteTaskOfString(Task<string>, HttpContext)+ExecuteAwaited(Task<string>, HttpContext)
            Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")}
            Task.WaitAsync
            """), tree);
        Has(Tree(
            $"""
            {Kestrel}
            RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}
            RequestDelegateFactory.ExecuteTaskOfString(Task<string>, HttpContext)+ExecuteAwaited(Task<string>, HttpContext)
            Task.ContinueWith({Lambda("shop.park.then")}) at {At("shop.park.then")} (waiting for the task it continues)
            Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")}
            Task.WaitAsync
            """), tree);
        Has(Tree(
            $"""
            {Kestrel}
            RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}
            RequestDelegateFactory.ExecuteTaskOfTFast<T>(Task<T>, HttpContext, JsonTypeInfo<T>)+ExecuteAwaited(Task<Product>, HttpContext, JsonTypeInfo<Product>)
            Parking.HoldAsync<Product>(Product, CancellationToken) at {At("shop.park.hold")}
            Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")}
            Task.WaitAsync
            """), tree);
        // The blocked request ran in no box of Kestrel's yet (its connection's first request, run to the handler without
        // awaiting) or in its running ProcessRequests: either way the thread waits for the parked method.
        HasOne(BlockedThread(configuration).Select(blocked =>
            $"""
            {blocked}
            Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")} <- a thread is blocked waiting for it
            Task.WaitAsync
            """), Unindented(tree));
        Assert.DoesNotContain("__Canon", tree);

        var stacks = Read(shop, "stacks");
        Has(
            $"""

            x20
            {Indented(Kestrel)}
                RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}
                RequestDelegateFactory.ExecuteTaskOfT<T>(Task<T>, HttpContext, JsonTypeInfo<T>)+ExecuteAwaited(Task<Dictionary<string, string>>, HttpContext, JsonTypeInfo<Dictionary<string, string>>)
                {Lambda("shop.config.get")} at {At("shop.config.get")}
                ConfigCache.LoadAsync() at {At("shop.config.load")} <- one task awaited by 20
                awaiting Task.Delay

            """, stacks);
        HasOne(BlockedThread(configuration).Select(blocked =>
            $"""
                {blocked}
                Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")}
                awaiting Task.WaitAsync; a thread is blocked waiting for it

            """), stacks);
        Assert.DoesNotContain("__Canon", stacks);
    }

    private static void Has(string expected, string output) =>
        Assert.True(output.Contains(expected, StringComparison.Ordinal), $"expected:\n{expected}\nin:\n{output}");

    private static void HasOne(IEnumerable<string> expected, string output) =>
        Assert.True(expected.Any(e => output.Contains(e, StringComparison.Ordinal)), $"expected one of:\n{string.Join("\nor:\n", expected)}\nin:\n{output}");

    // Where the thread blocks in /park/sync: the handler's lambda, which a Release build inlines into ASP.NET Core's
    // compiled request delegate (a dynamic method, no line): there the nearest frame with a line is the middleware.
    // A Release build's middleware may be compiled again (tiered up) while the thread waits in it: the frame is then in
    // code the runtime no longer maps to lines, named without one rather than with a wrong one.
    private static string[] BlockedThread(string configuration) => configuration == "Debug"
        ? [$"Thread N, blocked in {Lambda("shop.park.sync")} at {At("shop.park.sync")}"]
        : [$"Thread N, blocked in RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}", "Thread N, blocked in RequestTiming.InvokeAsync(HttpContext)"];

    // Reads the process until everything sent is held. A busy machine may take seconds to get there: the blocked request
    // holds a pool thread, and the pool adds threads slowly while it is starved, so the twenty connections of the
    // configuration requests may wait in its queue (CI, Debug: still not started after three reads a second apart).
    private static string Read(RunningApp app, string command)
    {
        var output = "";
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            output = Regex.Replace(OutsideRead.Run(command, app), @"\bThread \d+, blocked", "Thread N, blocked");
            if (output.Contains("one task awaited by 20", StringComparison.Ordinal) && output.Contains("Thread N, blocked", StringComparison.Ordinal))
                return output;
            Thread.Sleep(1000);
        }
        return output;
    }

    // Lines, one per level, drawn as a tree of one branch: the first a root, each next under the one before.
    private static string Tree(string lines)
    {
        var text = new System.Text.StringBuilder();
        var rows = lines.Split('\n');
        for (var i = 0; i < rows.Length; i++)
            text.Append(i == 0 ? "" : new string(' ', (i - 1) * 4) + "└── ").Append(rows[i]).Append('\n');
        return text.ToString();
    }

    private static string Below(string lines) => lines[(lines.IndexOf('\n') + 1)..];

    private static string Indented(string lines) => string.Join('\n', lines.Split('\n').Select(l => "    " + l));

    // The text of each line without its tree branches (a subtree read wherever it hangs).
    private static string Unindented(string tree) =>
        string.Join('\n', tree.Split('\n').Select(l => l.LastIndexOf("── ", StringComparison.Ordinal) is var b and >= 0 ? l[(b + 3)..] : l.TrimStart()));
}
