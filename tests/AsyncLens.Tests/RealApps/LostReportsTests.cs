using System.Diagnostics;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>Reports that used to go missing (issue 13, item 14), on the real applications.</summary>
public sealed class LostReportsTests
{
    private static readonly SourceMarkers s_pipelines = new(Repo.Source("tests", "RealApps", "Pipelines"));
    private static readonly SourceMarkers s_shop = new(Repo.Source("tests", "RealApps", "ShopApi"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_delivery_abandoned_and_collected_within_the_second_is_reported_before_the_program_ends(string configuration)
    {
        // The program drops an acknowledgement it never completes, collects garbage at once and ends: the runtime's
        // registry still held the abandoned delivery then, so that collection alone could not find it.
        var result = ChildProcess.Dotnet([Repo.Program("Pipelines", configuration), "abandon"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("delivered 2", result.Stdout);
        var r = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("pending-collected", r.Kind());
        Assert.Equal("Acks.DeliverAsync(int)", r.Method());
        Assert.Equal(At(s_pipelines, "pipe.abandon.parked"), r.At("location"));
        Assert.Equal(At(s_pipelines, "pipe.abandon.created"), r.At("createdAt"));
        Assert.Equal([$"Acks.DeliverAsync(int) at {At(s_pipelines, "pipe.abandon.parked")}"], r.Stack());
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_fire_and_forget_task_from_a_synchronous_handler_names_the_line_that_started_it(string configuration)
    {
        // In Release the handler's lambda is inlined into the code ASP.NET Core compiles for the endpoint: no stack
        // shows its frame, and the first frame of the user's on it is the middleware's `await next(context)`. The method
        // has a second caller (/admin/reindex): its one call site does not tell either; the request's handler does.
        var result = ShopApiRuns.Run(configuration, async http =>
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, (await http.PostAsync("/bug/reindex", null)).StatusCode);
            await Task.Delay(1500);
        });
        Assert.True(result.ExitCode == 0, result.ToString());
        var r = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("unobserved-exception", r.Kind());
        Assert.Equal("SearchIndex.ReindexAsync()", r.Method());
        Assert.Equal(At(s_shop, "shop.reindex.throw"), r.At("location"));
        Assert.Equal(At(s_shop, "shop.reindex.forget"), r.At("createdAt"));
    }

    [Fact]
    public void A_report_due_as_the_service_stops_is_written_on_a_machine_with_no_cpu_to_spare()
    {
        // Four processes burning CPU on the machine's cores; the handler's task faults while the service stops.
        var burners = Enumerable.Range(0, 4).Select(_ => Process.Start(new ProcessStartInfo("sha256sum", "/dev/zero") { RedirectStandardOutput = true })!).ToList();
        try
        {
            var result = ShopApiRuns.Run("Release", async http =>
            {
                Assert.Equal(System.Net.HttpStatusCode.Accepted, (await http.PostAsync("/bug/reindex", null)).StatusCode);
            });
            Assert.True(result.ExitCode == 0, result.ToString());
            var r = Assert.Single(Reports.Parse(result.Stderr));
            Assert.Equal("unobserved-exception", r.Kind());
            Assert.Equal("SearchIndex.ReindexAsync()", r.Method());
        }
        finally
        {
            foreach (var burner in burners)
            {
                burner.Kill();
                burner.Dispose();
            }
        }
    }

    private static string At(SourceMarkers markers, string tag) => $"{markers[tag].File}:{markers[tag].Line}";
}
