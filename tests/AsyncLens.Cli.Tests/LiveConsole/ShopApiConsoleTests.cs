using System.Globalization;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// The console on tests/RealApps/ShopApi (ASP.NET Core, Debug and Release), with nothing of AsyncLens in it but the
/// startup hook and ASYNCLENS_CONSOLE=1: a request parked in <c>GET /park</c> is found by ps,
/// explained by where (Kestrel down to the handler's await), cancelled through the token minimal APIs bind to the
/// request's RequestAborted (the client gets its answer), and then listed by ps-terminated.
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
        using var app = new RunningApp("ShopApi", configuration, new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1" });
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
    }

    private static ProcessResult Console(RunningApp app, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, .. args], timed: false);
}
