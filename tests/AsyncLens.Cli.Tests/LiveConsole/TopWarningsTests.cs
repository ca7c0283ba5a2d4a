using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens top</c>'s warnings on tests/RealApps/ShopApi (Debug and Release) under debug mode and the console: a step
/// spinning past debug mode's hung-step threshold (<c>/bug/spin</c>), named with the await it resumed from, and the
/// requests in flight past <c>--request-limit</c>; the console's <c>threads</c> JSON says which step is hung.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed class TopWarningsTests
{
    private static readonly SourceMarkers s_shop = new(Repo.Source("tests", "RealApps", "ShopApi"));

    // Open (issue 15): in the Debug build the spinning handler's thread sometimes shows only "an ASP.NET Core request"
    // (the request's frame on top, no step): failed twice on 2026-12-05 (the suite at load 2-6, a filtered run at load 15).
    [Theory]
    [InlineData("Debug", Skip = "issue 15, open: in Debug the spinning handler's thread sometimes shows only its request's frame, no hung step")]
    [InlineData("Release")]
    public async Task Top_warns_of_a_hung_step_with_its_line_and_of_requests_past_the_limit(string configuration)
    {
        using var app = new RunningApp("ShopApi", configuration, new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1", ["ASYNCLENS_DEBUG"] = "1",
        });
        Assert.Equal("ok", await app.GetAsync("/health"));
        app.Start("/park/product/7");
        Thread.Sleep(100); // the parked request first: the oldest
        app.Start("/bug/spin/60000"); // spins a minute whatever happens: the test ends the app itself
        // Debug mode calls a step hung past ten times its slow-step threshold (1 s): the console's threads JSON says so
        // of the thread running it, with the await the step resumed from.
        JsonElement? step = null;
        var last = "";
        for (var i = 0; i < 60 && step is null; i++)
        {
            Thread.Sleep(i == 0 ? 1000 : 100);
            var threads = ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, "threads", "--format", "json"], timed: false);
            Assert.True(threads.ExitCode == 0, threads.ToString());
            last = threads.Stdout;
            step = JsonDocument.Parse(threads.Stdout).RootElement.GetProperty("result").GetProperty("threads").EnumerateArray()
                .Where(t => t.TryGetProperty("step", out var s) && s.GetProperty("hung").GetBoolean()).Select(t => t.GetProperty("step"))
                .Cast<JsonElement?>().FirstOrDefault();
        }
        Assert.True(step is not null, $"no hung step in threads:\n{last}\n{app.Output}");
        Assert.Equal("Reports.SpinAsync(int, InventoryClient)", step.Value.GetProperty("method").GetString());
        Assert.True(step.Value.GetProperty("runningSeconds").GetDouble() >= 1, step.ToString());
        Assert.Equal(
            $"{s_shop["shop.spin.resumed"].File}:{s_shop.Line("shop.spin.resumed").ToString(CultureInfo.InvariantCulture)}",
            $"{step.Value.GetProperty("resumedAt").GetProperty("file").GetString()}:{step.Value.GetProperty("resumedAt").GetProperty("line")}");

        // top's panel, printed: the hung step with its line, the requests past --request-limit, the oldest named.
        var top = ChildProcess.Dotnet([Repo.Cli, "top", app.PidText, "--pending-limit", "600", "--request-limit", "1"], new Dictionary<string, string?> { ["COLUMNS"] = "200" }, timed: false);
        Assert.True(top.ExitCode == 0, top.ToString());
        var lines = top.Stdout.TrimEnd('\n').Split('\n');
        var warnings = lines[Array.IndexOf(lines, "warnings:")..];
        var spin = $"Reports.cs:{s_shop.Line("shop.spin.resumed").ToString(CultureInfo.InvariantCulture)}";
        Assert.True(warnings.Length == 3, top.Stdout);
        Assert.Matches($@"^  hung step: Reports\.SpinAsync\(int, InventoryClient\) running \d+(\.\d)? s since {Regex.Escape(spin)} \(task {step.Value.GetProperty("taskId")}, thread \d+\)$", warnings[1]);
        Assert.Matches(@"^  2 requests past 1\.0 s; oldest \d+(\.\d)? s: GET /park/product/7 \(route /park/product/\{id:int\}\)$", warnings[2]);
        // Graceful shutdown would wait for the spinning request.
        using (var process = System.Diagnostics.Process.GetProcessById(app.Pid))
            process.Kill();
    }
}
