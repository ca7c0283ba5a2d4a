using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// <c>asynclens doctor PID</c> on tests/RealApps/ShopApi (ASP.NET Core), Debug and Release, with nothing of AsyncLens in
/// it: healthy while idle and under traffic; each seeded problem named with the lines marked in its source.
/// </summary>
public sealed class ShopApiDoctorTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "ShopApi"));

    private static string At(string tag) => Regex.Escape($"{s_at[tag].File}:{s_at.Line(tag)}");

    // Where a request's handler blocks: a Debug build keeps the lambda's frame; a Release build inlines the lambda into
    // ASP.NET Core's generated method, so the blocking frame is that one, under the middleware's line.
    private static string BlockedIn(string configuration, string tag) => configuration == "Debug"
        ? $@"in `Program\.Main lambda at Program\.cs:{s_at.Line(tag)}` at {At(tag)}"
        : $@"in `DynamicClass\.lambda_method\d+\(\.\.\.\)` under `RequestTiming\.InvokeAsync\(HttpContext\)` at {At("shop.timing.next")}";

    // How the handler waits, from the frame that called the runtime's wait: Release code tiered up under load inlines
    // Task<T>.Result into ASP.NET Core's generated method, and the wait is then named without it.
    private static string How(string configuration) => configuration == "Debug" ? @" \(\.Result\)" : @"( \(\.Result\))?";

    private static void Matches(string pattern, string value, ProcessResult result) =>
        Assert.True(Regex.IsMatch(value, pattern), $"/{pattern}/ does not match:\n{value}\n\nin:\n{result}");

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void Idle_and_under_traffic_it_is_healthy(string configuration)
    {
        using var shop = new RunningApp("ShopApi", configuration);
        // Idle, no pool thread is blocked; under traffic one may be, for a moment, in a lock of the framework's (the read
        // landed on it once in a fresh-clone suite): healthy all the same, which is what is asked.
        var idleHealthy = new Regex(@"^healthy: nothing stuck: \d+ threads \(\d+ in the thread pool, \d+ idle, 0 blocked\), \d+ pending tasks, [\d,]+ work items? queued; the main thread waits in `Program\.<Main>\(string\[\]\)`, for the app to end$");
        var healthy = new Regex(@"^healthy: nothing stuck: \d+ threads \(\d+ in the thread pool, \d+ idle, \d+ blocked\), \d+ pending tasks, [\d,]+ work items? queued; the main thread waits in `Program\.<Main>\(string\[\]\)`, for the app to end$");
        var idle = DoctorRun.Run(shop.Pid);
        Assert.True(idle.ExitCode == 0, idle.ToString());
        var idleVerdict = Assert.Single(DoctorRun.Verdicts(idle));
        Assert.True(idleHealthy.IsMatch(idleVerdict), idle.ToString());

        using var stop = new CancellationTokenSource();
        var traffic = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            var answered = 0;
            while (!stop.IsCancellationRequested)
            {
                Assert.Contains("\"id\":", await shop.GetAsync($"/product/{answered % 50 + i}"));
                answered++;
            }
            return answered;
        })).ToList();
        for (var read = 0; read < 5; read++)
        {
            var busy = DoctorRun.Run(shop.Pid);
            Assert.True(busy.ExitCode == 0, $"read {read + 1} of 5 under traffic:\n{busy}");
            Assert.True(healthy.IsMatch(Assert.Single(DoctorRun.Verdicts(busy))), $"read {read + 1} of 5 under traffic:\n{busy}");
        }
        stop.Cancel();
        Assert.All(traffic, t => Assert.True(t.Result > 0));
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_request_blocked_on_a_parked_one_is_sync_over_async_and_requests_parked_at_one_await_are_stuck(string configuration)
    {
        using var shop = new RunningApp("ShopApi", configuration);
        for (var i = 0; i < 12; i++)
            shop.Start("/park");
        shop.Start("/park/sync");
        var stuck = $"stuck-requests: 13 pending at `Parking.WaitAsync(CancellationToken)` at {s_at["shop.park.wait"].File}:{s_at.Line("shop.park.wait")}, waiting for a Task.WaitAsync each (a signal some code must give, not I/O or a timer)";
        // The requests reach their handlers at their own pace: read until all 13 are there (each read is whole).
        ProcessResult result = null!;
        for (var attempt = 0; attempt < 10 && (result is null || !result.Stdout.Split('\n').Any(v => DoctorRun.IsStuck(stuck, v)) || !result.Stdout.Contains("sync-over-async:", StringComparison.Ordinal)); attempt++)
        {
            Thread.Sleep(500);
            result = DoctorRun.Run(shop.Pid);
        }

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"asynclens doctor: sync-over-async, stuck-requests (pid {shop.Pid}, ", result.Stdout);
        var verdicts = DoctorRun.Verdicts(result);
        Assert.Equal(2, verdicts.Length);
        Matches($@"^sync-over-async: thread \d+ blocked {BlockedIn(configuration, "shop.park.sync")} waiting \(\.Result\) for `Parking\.WaitAsync\(CancellationToken\)`, parked at {At("shop.park.wait")} on Task\.WaitAsync \(the thread pool is not starved yet\)$", verdicts[0], result);
        Assert.True(DoctorRun.IsStuck(stuck, verdicts[1]), result.Stdout);
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_handler_spinning_on_a_pool_thread_is_a_hot_thread(string configuration)
    {
        using var shop = new RunningApp("ShopApi", configuration);
        shop.Start("/bug/spin/15000");
        Thread.Sleep(1500); // its stock lookup first, then the loop
        var result = DoctorRun.Run(shop.Pid, "--format", "json");

        Assert.True(result.ExitCode == 1, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var verdict = Assert.Single(json.RootElement.GetProperty("verdicts").EnumerateArray());
        Assert.Equal("hot-thread", verdict.GetProperty("kind").GetString());
        // A Debug build's loop has its lines; a Release build runs it in code compiled again while it ran (on-stack
        // replacement), which the runtime maps to no line: the method is named without one rather than with a wrong one.
        var at = configuration == "Debug" ? $" at ({At("shop.spin.loop")}|{At("shop.spin.body")})" : "";
        Matches($@"^thread \d+ ran `Reports\.SpinAsync\(int, InventoryClient\)`{at}(, a step of `Reports\.SpinAsync\(int, InventoryClient\)`)? without waiting for \d+\.\d s \((9\d|100) % of the time running or ready to run\)$",
            verdict.GetProperty("summary").GetString()!, result);
        var site = Assert.Single(verdict.GetProperty("sites").EnumerateArray());
        Assert.Equal("Reports.SpinAsync(int, InventoryClient)", site.GetProperty("method").GetString());
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void Requests_blocking_on_a_slow_call_under_load_starve_the_pool(string configuration)
    {
        using var shop = new RunningApp("ShopApi", configuration);
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 60).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await shop.Send($"/bug/sync-stock/{i}");
                }
                catch (HttpRequestException)
                {
                    // The app is ended at the end of the test with requests in flight.
                }
            }
        })).ToList();
        Thread.Sleep(5000);
        var result = DoctorRun.Run(shop.Pid);
        stop.Cancel();

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"asynclens doctor: pool-starvation (pid {shop.Pid}, ", result.Stdout);
        Matches($@"^pool-starvation: (\d+) of \d+ pool threads blocked(; \d+)? {BlockedIn(configuration, "shop.sync-stock.wait")} waiting{How(configuration)} for `InventoryClient\.GetStockAsync\(int, int, CancellationToken\)`, parked at {At("shop.stock.get")} on [^;]+; [\d,]+ work items? queued$",
            DoctorRun.Verdicts(result)[0], result);
    }
}
