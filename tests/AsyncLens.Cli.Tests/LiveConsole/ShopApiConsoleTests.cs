using System.Globalization;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// The console on tests/RealApps/ShopApi (ASP.NET Core, Debug and Release), with nothing of AsyncLens in it but the
/// startup hook and ASYNCLENS_CONSOLE=1: a request parked in <c>GET /park</c> is found by ps,
/// explained by where (Kestrel down to the handler's await), cancelled through the token minimal APIs bind to the
/// request's RequestAborted (the client gets its answer), and then listed by ps-terminated; a BackgroundService's loop,
/// whose only token is its stopping token, is not cancelled (that would stop the app).
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed class ShopApiConsoleTests
{
    private static readonly SourceMarkers s_shop = new(Repo.Source("tests", "RealApps", "ShopApi"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public async Task A_parked_request_is_found_explained_and_cancelled(string configuration)
    {
        // The stock refresher ticks once in ten minutes: its loop stays parked on its timer (below).
        using var app = new RunningApp("ShopApi", configuration, new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1", ["SHOP_REFRESH"] = "600000" });
        var parked = (Task<HttpResponseMessage>)app.Send("/park");
        var (file, line) = s_shop["shop.park.wait"];
        var ps = "";
        for (var i = 0; i < 100 && !ps.Contains("\n1 matching", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(200);
            ps = Console(app, "ps", "--filter", "Parking.WaitAsync").Stdout;
        }
        var row = ps.Split('\n')[4];
        var id = row.Split(' ')[0];
        Assert.Matches($@"^{id} +parked +Parking.WaitAsync\(CancellationToken\) +Catalog.cs:{line.ToString(CultureInfo.InvariantCulture)} +Task.WaitAsync +\d+ +no +#\d+ GET /park$", row);

        var where = Console(app, "where", id).Stdout;
        Assert.StartsWith($"task {id}: Parking.WaitAsync(CancellationToken), parked at {file}:{line}\nasync stack (root first):\n    KestrelConnection<", where);
        Assert.Contains($"\n    RequestTiming.InvokeAsync(HttpContext) at {s_shop["shop.timing.next"].File}:{s_shop.Line("shop.timing.next")}\n", where);
        Assert.Contains($"\n    Parking.WaitAsync(CancellationToken) at {file}:{line}\n    awaiting Task.WaitAsync\n", where);

        // Parked past one sweep: its end goes to the history.
        Thread.Sleep(1500);
        var cancel = Console(app, "cancel", id);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal($"cancel {id}: cancelled the CancellationTokenSource of 'aborted', which it holds (parked at {file}:{line})\n", cancel.Stdout);
        using var response = await parked.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(500, (int)response.StatusCode); // the handler does not catch its cancellation

        var ended = "";
        for (var i = 0; i < 50 && !ended.Contains("Parking.WaitAsync", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(200);
            ended = Console(app, "ps-terminated").Stdout;
        }
        Assert.Matches($@"\n{id} +cancelled by the console +Parking.WaitAsync\(CancellationToken\) +Catalog.cs:{line.ToString(CultureInfo.InvariantCulture)} ", ended);

        // The BackgroundService's loop holds only its stopping token: cancelling it would stop the service, and by the
        // Generic Host's default the app. Refused, exit 1; the app serves on.
        var refresher = Console(app, "ps", "--filter", "StockRefresher.ExecuteAsync").Stdout.Split('\n')[4].Split(' ')[0];
        var refused = Console(app, "cancel", refresher);
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal($"asynclens: cancel: task {refresher} (StockRefresher.ExecuteAsync(CancellationToken)): the only token its chain holds is a service's: 'stoppingToken' is the stopping token of the BackgroundService StockRefresher: cancelling it would stop that service, and with the host's default (BackgroundServiceExceptionBehavior.StopHost) the whole app; nothing was changed (to stop the app: kill -TERM {app.PidText})\n", refused.Stderr);
        Assert.Equal("ok", await app.GetAsync("/health"));
    }

    private static ProcessResult Console(RunningApp app, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, .. args], timed: false);
}
