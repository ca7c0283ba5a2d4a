using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens top</c>'s warnings on tests/RealApps/ShopApi (Debug and Release) under debug mode and the console: a step
/// spinning past debug mode's hung-step threshold (<c>/bug/spin</c>), named with the await it resumed from; a synchronous
/// handler computing on its request's thread (<c>/bug/interest</c>: no step of its own, named as the request's handler
/// from its first line); and the requests in flight past <c>--request-limit</c>. The console's <c>threads</c> JSON says
/// which steps are hung: <c>threads</c> and <c>top</c> decide what a thread runs in one place (LiveThreads).
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed class TopWarningsTests
{
    private static readonly SourceMarkers s_shop = new(Repo.Source("tests", "RealApps", "ShopApi"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public async Task Top_warns_of_a_hung_step_with_its_line_and_of_requests_past_the_limit(string configuration)
    {
        using var app = new RunningApp("ShopApi", configuration, new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1", ["ASYNCLENS_DEBUG"] = "1",
        });
        Assert.Equal("ok", await app.GetAsync("/health"));
        app.Start("/park/product/7");
        // The parked request first, the oldest: waited for in the console's list of requests in flight.
        Poll(app, "requests", r => r.GetProperty("requests").EnumerateArray().Any(q => q.GetProperty("path").GetString() == "/park/product/7"));
        var spinning = app.Send("/bug/spin/60000"); // spins a minute whatever happens: the test ends the app itself
        app.Start("/bug/interest/60000"); // computes a minute on its request's thread, or until the request is dropped

        // Debug mode calls a step hung past ten times its slow-step threshold (1 s): the console's threads JSON says so of
        // the threads running them. SpinAsync resumed from its await (or, when that await completed at once, runs inline
        // in its request's stretch from its start, with no task); InterestTable, synchronous, always runs so.
        var threads = Poll(app, "threads", r => Hung(r).Count == 2);
        var spin = Hung(threads).Single(s => s.GetProperty("method").GetString() == "Reports.SpinAsync(int, InventoryClient)");
        var interest = Hung(threads).Single(s => s.GetProperty("method").GetString() == "Reports.InterestTable(int, CancellationToken)");
        var spinInline = spin.TryGetProperty("handler", out _);
        Assert.Equal(At(spinInline ? FirstLine("shop.spin") : "shop.spin.resumed"), At(spin.GetProperty("resumedAt")));
        Assert.Equal(spinInline, !spin.TryGetProperty("taskId", out _));
        Assert.True(interest.GetProperty("handler").GetBoolean() && interest.GetProperty("firstStep").GetBoolean(), interest.ToString());
        Assert.False(interest.TryGetProperty("taskId", out _), interest.ToString());
        Assert.Equal(At(FirstLine("shop.interest")), At(interest.GetProperty("resumedAt")));
        foreach (var step in new[] { spin, interest })
            Assert.True(step.GetProperty("runningSeconds").GetDouble() >= 1, step.ToString());

        // top's panel, printed: the hung steps with their lines, the requests past --request-limit, the oldest named.
        var top = ChildProcess.Dotnet([Repo.Cli, "top", app.PidText, "--pending-limit", "600", "--request-limit", "1"], new Dictionary<string, string?> { ["COLUMNS"] = "200" }, timed: false);
        Assert.True(top.ExitCode == 0, top.ToString());
        var lines = top.Stdout.TrimEnd('\n').Split('\n');
        var warnings = lines[Array.IndexOf(lines, "warnings:")..];
        Assert.True(warnings.Length == 4, top.Stdout);
        var spinLine = spinInline
            ? $@"since its start at {Regex.Escape(Short(FirstLine("shop.spin")))} \(a request's handler, no await parked, thread \d+\)"
            : $@"since {Regex.Escape(Short("shop.spin.resumed"))} \(task {spin.GetProperty("taskId")}, thread \d+\)";
        Assert.Single(warnings, w => Regex.IsMatch(w, $@"^  hung step: Reports\.SpinAsync\(int, InventoryClient\) running \d+(\.\d)? s {spinLine}$"));
        Assert.Single(warnings, w => Regex.IsMatch(w,
            $@"^  hung step: Reports\.InterestTable\(int, CancellationToken\) running \d+(\.\d)? s since its start at {Regex.Escape(Short(FirstLine("shop.interest")))} \(a request's handler, no await parked, thread \d+\)$"));
        Assert.Matches(@"^  3 requests past 1\.0 s; oldest \d+(\.\d)? s: GET /park/product/7 \(route /park/product/\{id:int\}\)$", warnings[3]);

        // threads' text names the handler with its first line too.
        var text = ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, "threads"], timed: false);
        Assert.Contains($" the handler `Reports.InterestTable(int, CancellationToken)` of an ASP.NET Core request, since its start at {At(FirstLine("shop.interest"))} (no await of it has parked)\n", text.Stdout);
        // cancel of a task serving the spinning request, whose chain holds no token: the request is aborted, the client's
        // connection closed (SpinAsync, which watches no token, spins on). The request's tasks exist once something in it
        // parked (Kestrel's loop reading the request, SpinAsync's await).
        var request = Poll(app, "ps", _ => true).GetProperty("requests").EnumerateArray().Single(r => r.GetProperty("path").GetString() == "/bug/spin/60000");
        var serving = request.GetProperty("tasks").EnumerateArray().Select(t => t.GetInt64().ToString(CultureInfo.InvariantCulture)).FirstOrDefault();
        Assert.True(serving is not null || spinInline, request.ToString());
        if (serving is not null)
        {
            var cancel = ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, "cancel", serving], timed: false);
            Assert.True(cancel.ExitCode == 0, cancel.ToString());
            Assert.Equal($"cancel {serving}: no CancellationTokenSource in its chain; aborted the ASP.NET Core request it serves ({request.GetProperty("request").GetString()}): its connection is closed and its RequestAborted token cancelled (code that does not watch that token runs on to its end)\n", cancel.Stdout);
            var closed = await Record.ExceptionAsync(() => spinning.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(closed is HttpRequestException, $"the client did not see its connection closed: {closed}");
        }
        // Graceful shutdown would wait for the spinning request.
        using (var process = System.Diagnostics.Process.GetProcessById(app.Pid))
            process.Kill();

        // A method's first line: the brace in a Debug build; the first statement in Release (no sequence point for the brace).
        string FirstLine(string method) => configuration == "Debug" ? method + ".start" : method == "shop.spin" ? "shop.spin.resumed" : method + ".first";
    }

    private static string At(string tag) => $"{s_shop[tag].File}:{s_shop.Line(tag).ToString(CultureInfo.InvariantCulture)}";

    private static string At(JsonElement at) => $"{at.GetProperty("file").GetString()}:{at.GetProperty("line")}";

    private static string Short(string tag) => $"{Path.GetFileName(s_shop[tag].File)}:{s_shop.Line(tag).ToString(CultureInfo.InvariantCulture)}";

    private static List<JsonElement> Hung(JsonElement result) =>
        [.. result.GetProperty("threads").EnumerateArray().Where(t => t.TryGetProperty("step", out var s) && s.GetProperty("hung").GetBoolean()).Select(t => t.GetProperty("step"))];

    // Asks the console until its answer's result is what the test needs (each ask starts the CLI: no fixed count of
    // tries, a deadline far past what a loaded machine needs).
    private static JsonElement Poll(RunningApp app, string command, Func<JsonElement, bool> ready)
    {
        var deadline = DateTime.UtcNow.AddSeconds(45);
        var last = "";
        while (true)
        {
            var answer = ChildProcess.Dotnet([Repo.Cli, "console", app.PidText, command, "--format", "json"], timed: false);
            Assert.True(answer.ExitCode == 0, answer.ToString());
            last = answer.Stdout;
            var result = JsonDocument.Parse(answer.Stdout).RootElement.GetProperty("result").Clone();
            if (ready(result))
                return result;
            Assert.True(DateTime.UtcNow < deadline, $"{command} never answered what the test waits for:\n{last}\n{app.Output}");
            Thread.Sleep(100);
        }
    }
}
