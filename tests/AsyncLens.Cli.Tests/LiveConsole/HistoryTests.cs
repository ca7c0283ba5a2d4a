using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>ps-terminated</c> and <c>where-terminated ID</c>: how the async methods that ended did (cancelled by the console,
/// faulted with their exception, ran to completion), the line each last awaited at; the history bounded. Without debug mode:
/// what the sweeper saw pending a second or more (debug mode's capture at each end: DebugModeConsoleTests).
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed partial class HistoryTests
{
    private static string At(string tag) => ConsoleTests.At(tag);

    private static string Short(string tag) => Path.GetFileName(ConsoleTests.Markers[tag].File) + ":" + ConsoleTests.Markers[tag].Line;

    [Fact]
    public void After_a_cancel_and_a_fault_each_ended_method_says_how()
    {
        using var app = new ConsoledApp(["bill"]);
        var id = ConsoleTests.Ids(app);
        Thread.Sleep(1500); // parked past one sweep of the inventory: the history is of work pending that long
        Assert.Equal(0, app.Console("cancel", id["Service.RunJobAsync(CancellationToken)"]).ExitCode);
        app.WaitFor("job: cancelled, stopping");
        app.Send("decline");
        app.WaitFor("bill: card declined for order 7");
        var rows = Rows(Until(app, 4));
        string[][] expected =
        [
            ["ID", "HOW", "METHOD", "LAST PARKED AT", "LIVED", "ENDED"],
            .. new[]
            {
                new[] { id["Service.RunJobAsync(CancellationToken)"], "ran to completion", "Service.RunJobAsync(CancellationToken)", Short("jobs.run"), "-", "N s ago" },
                [id["Service.PollAsync(CancellationToken)"], "cancelled by the console", "Service.PollAsync(CancellationToken)", Short("jobs.poll"), "-", "N s ago"],
                [id["Service.BillAsync(Task)"], "ran to completion", "Service.BillAsync(Task)", Short("jobs.bill"), "-", "N s ago"],
                [id["Service.ChargeAsync(Task)"], "faulted", "Service.ChargeAsync(Task)", Short("jobs.charge"), "-", "N s ago"],
            }.OrderBy(r => r[2], StringComparer.Ordinal),
        ];
        Assert.Equal(expected, rows.Take(1).Concat(rows.Skip(1).OrderBy(r => r[2], StringComparer.Ordinal)).ToArray());

        var charge = app.Console("where-terminated", id["Service.ChargeAsync(Task)"]);
        Assert.True(charge.ExitCode == 0, charge.ToString());
        Assert.Equal(
            $"""
            task {id["Service.ChargeAsync(Task)"]}: Service.ChargeAsync(Task), faulted, N s ago (T)
              exception: InvalidOperationException: card declined for order 7
              last parked at {At("jobs.charge")}
              last async stack (root first):
                Service.ChargeAsync(Task) at {At("jobs.charge")}
              created at: unknown (the app records creation sites and ages in debug mode only: start it with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both))

            """, Ago().Replace(charge.Stdout, "N s ago (T)"));
        var poll = app.Console("where-terminated", id["Service.PollAsync(CancellationToken)"], "--format", "json");
        using (var doc = JsonDocument.Parse(poll.Stdout))
        {
            var result = doc.RootElement.GetProperty("result");
            Assert.Equal("cancelled by the console", result.GetProperty("how").GetString());
            Assert.Equal(At("jobs.poll"), $"{result.GetProperty("lastParkedAt").GetProperty("file").GetString()}:{result.GetProperty("lastParkedAt").GetProperty("line")}");
        }
        var missing = app.Console("where-terminated", id["Service.WaitAsync(Task)"]);
        Assert.Equal((1, $"asynclens: where-terminated: task {id["Service.WaitAsync(Task)"]} is not among the last 1000 that ended (ps-terminated lists them)\n"), (missing.ExitCode, missing.Stderr));
        var exit = app.Release();
        Assert.True(exit == 0, $"exit {exit}\n{app.Output}");
    }

    [Fact]
    public void The_history_keeps_the_last_N_whatever_ends()
    {
        using var app = new ConsoledApp(["flood", "3000"], new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1", ["ASYNCLENS_CONSOLE_HISTORY"] = "100",
        });
        // Parked past one sweep (the history is of work pending a second or more), then answered: 6,000 methods end.
        Thread.Sleep(2500);
        app.Send("answer");
        // The sweeper records what ended within a second or so: until all 6,000 have been (the last 100 kept from the start).
        var text = Until(app, 100, minimumSince: 6000);
        Assert.Matches(@"^asynclens: 100 ended async methods \(the last 100 kept; (\d+) since the console started; pid ", text);
        var total = long.Parse(Regex.Match(text, @"; (\d+) since").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(total >= 6000, text.Split('\n')[0]);
        Assert.Equal(100, Rows(text).Length - 1);
        Assert.All(Rows(text).Skip(1), r => Assert.Equal("ran to completion", r[1]));
        var exit = app.Release();
        Assert.True(exit == 0, $"exit {exit}\n{app.Output}");
        Assert.Contains("done: 3000 requests answered", app.Output);
    }

    // ps-terminated until it lists `rows` methods, and counts at least `minimumSince` since the console started (the
    // sweeper records them within a second or so).
    private static string Until(ConsoledApp app, int rows, long minimumSince = 0)
    {
        var text = "";
        for (var i = 0; i < 100; i++)
        {
            var result = app.Console("ps-terminated");
            Assert.True(result.ExitCode == 0, result.ToString());
            text = result.Stdout;
            if (text.StartsWith($"asynclens: {rows} ended", StringComparison.Ordinal)
                && (minimumSince == 0 || long.Parse(Regex.Match(text, @"; (\d+) since").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= minimumSince))
                break;
            Thread.Sleep(200);
        }
        return text;
    }

    private static string[][] Rows(string text) =>
        text.TrimEnd('\n').Split('\n')[2..].Select(l => Ended().Replace(l, "N s ago")).Select(l => Regex.Split(l, "  +")).ToArray();

    [GeneratedRegex(@"\d+(\.\d)? s ago \(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\)")]
    private static partial Regex Ago();

    [GeneratedRegex(@"\d+(\.\d)? s ago$")]
    private static partial Regex Ended();
}
