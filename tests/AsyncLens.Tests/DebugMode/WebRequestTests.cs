using System.Globalization;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>
/// An ASP.NET Core app under the startup hook (tests/Targets/WebBugs), requested over loopback the way curl does it:
/// one connection per request. Such a request runs in a work item of Kestrel's, in no step, up to its first await.
/// </summary>
public sealed class WebRequestTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "WebBugs"));

    [Fact]
    public async Task Handlers_that_block_are_reported_on_new_connections_and_healthy_requests_are_not()
    {
        Task? client = null;
        var result = ChildProcess.DotnetInteractive(
            [Repo.Program("WebBugs")],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" },
            line =>
            {
                if (line.StartsWith("listening ", StringComparison.Ordinal) && line.Split(' ') is [_, var pid, var url])
                    client = Task.Run(() => RequestThenStop(int.Parse(pid, CultureInfo.InvariantCulture), url));
            });
        Assert.NotNull(client);
        await client;
        Assert.True(result.ExitCode == 0, result.ToString());
        var reports = Reports.Parse(result.Stderr);
        Assert.True(reports.Count == 2, "expected two reports:\n" + result.Stderr);

        var order = Assert.Single(reports, r => r.Method() == "Endpoints.GetOrderAsync(int)");
        Assert.Equal("slow-step", order.Kind());
        Assert.True(order.GetProperty("firstStep").GetBoolean());
        Assert.Equal(At("web.order.location"), order.At("location"));
        Assert.Equal(At("web.order.started"), order.At("resumedAt"));
        Assert.Equal(At("web.order.stopped"), order.At("stoppedAt"));
        Assert.InRange(order.Duration(), 0.29, 2.0);
        Assert.Equal($"Endpoints.GetOrderAsync(int) at {At("web.order.location")}", order.Stack()[^1]);

        var report = Assert.Single(reports, r => r.Method() == "Endpoints.BuildReportAsync()");
        Assert.Equal("slow-step", report.Kind());
        Assert.Equal(At("web.report.location"), report.At("location"));
        Assert.Equal(At("web.report.resumed"), report.At("resumedAt"));
        Assert.Equal(At("web.report.stopped"), report.At("stoppedAt"));
    }

    // Each request on a connection of its own (Connection: close), as curl makes them.
    private static async Task RequestThenStop(int pid, string url)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.ConnectionClose = true;
            foreach (var path in new[] { "/healthy", "/healthy", "/orders/7", "/healthy", "/report", "/healthy" })
                (await http.GetAsync(path)).EnsureSuccessStatusCode();
            await Task.Delay(300);
        }
        finally
        {
            Signals.Send("-TERM", pid);
        }
    }

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
