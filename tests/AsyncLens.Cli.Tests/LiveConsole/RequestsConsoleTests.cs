using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// The console's <c>requests</c> and <c>ps</c>'s REQUEST column on tests/RealApps/ShopApi (Debug and Release), with
/// nothing of AsyncLens in the app but the startup hook and ASYNCLENS_CONSOLE=1: two requests parked in flight, each
/// with its method, path, route and age, and the task tree under it from its middleware down to the await it is parked at.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed class RequestsConsoleTests
{
    private static readonly SourceMarkers s_shop = new(Repo.Source("tests", "RealApps", "ShopApi"));

    private static string At(string tag) => $"{s_shop[tag].File}:{s_shop.Line(tag).ToString(CultureInfo.InvariantCulture)}";

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public async Task Requests_in_flight_show_their_route_age_and_the_tasks_under_them(string configuration)
    {
        using var app = new RunningApp("ShopApi", configuration, new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1" });
        // A first request warms routing up (the very first one waits in the router for its matcher).
        Assert.Equal("ok", await app.GetAsync("/health"));
        app.Start("/park/product/7");
        app.Start("/park?from=test");
        var text = "";
        // The warm-up request ends for hosting a moment after its client has the answer: until only the two are in flight.
        for (var i = 0; i < 100 && (Regex.Matches(text, "Task.WaitAsync").Count < 2 || !text.StartsWith("asynclens: 2 requests", StringComparison.Ordinal)); i++)
        {
            Thread.Sleep(i == 0 ? 0 : 200);
            var requests = Console(app, "requests");
            Assert.True(requests.ExitCode == 0, requests.ToString());
            text = requests.Stdout;
        }
        var blocks = text.TrimEnd('\n').Split("\n\n");
        Assert.Matches($@"^asynclens: 2 requests in flight \(pid {app.PidText}, 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$", blocks[0]);
        var product = blocks.Single(b => b.Contains("/park/product/7", StringComparison.Ordinal)).Split('\n');
        Assert.Matches(@"^request \d+: GET /park/product/7 \(route /park/product/\{id:int\}\), \d+\.\d s$", product[0]);
        Assert.Equal(
            [
                $"    RequestTiming.InvokeAsync(HttpContext) at {At("shop.timing.next")}",
                "    └── RequestDelegateFactory.ExecuteTaskOfTFast<T>(Task<T>, HttpContext, JsonTypeInfo<T>)+ExecuteAwaited(Task<Product>, HttpContext, JsonTypeInfo<Product>)",
                $"        └── Parking.HoldAsync<Product>(Product, CancellationToken) at {At("shop.park.hold")}",
                $"            └── Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")}",
                "                └── Task.WaitAsync",
            ],
            product[1..]);
        var park = blocks.Single(b => b.Contains("GET /park?from=test", StringComparison.Ordinal)).Split('\n');
        Assert.Matches(@"^request \d+: GET /park\?from=test \(route /park\), \d+\.\d s$", park[0]);
        Assert.Equal($"        └── Parking.WaitAsync(CancellationToken) at {At("shop.park.wait")}", park[^2]);

        // ps names the request each task serves; the JSON maps request numbers to task ids.
        var number = Regex.Match(product[0], @"^request (\d+)").Groups[1].Value;
        var ps = Console(app, "ps", "--filter", "Parking.HoldAsync").Stdout.Split('\n');
        Assert.Equal("REQUEST", Regex.Split(ps[3], " {2,}")[^1]);
        Assert.Matches($@"^\d+ +parked +Parking\.HoldAsync<Product>\(Product, CancellationToken\) +Catalog\.cs:{s_shop.Line("shop.park.hold")} +\d+ +\d+ +no +#{number} GET /park/product/7$", ps[4]);
        using var json = JsonDocument.Parse(Console(app, "requests", "--format", "json").Stdout);
        var first = json.RootElement.GetProperty("result").GetProperty("requests").EnumerateArray()
            .Single(r => r.GetProperty("path").GetString() == "/park/product/7");
        Assert.Equal("GET", first.GetProperty("method").GetString());
        Assert.Equal("/park/product/{id:int}", first.GetProperty("route").GetString());
        Assert.Equal(4, first.GetProperty("tasks").GetArrayLength());
    }

    private static ProcessResult Console(RunningApp app, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, .. args], timed: false);
}
