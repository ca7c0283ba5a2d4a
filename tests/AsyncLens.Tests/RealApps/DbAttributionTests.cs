using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on the database worker of the corpus (tests/RealApps/DbWorker: Npgsql + Dapper on PostgreSQL,
/// StackExchange.Redis on redis-server), Debug and Release builds: a blocking database call inside an async method
/// is named at its line, with its async twin as the fix.
/// </summary>
public sealed class DbAttributionTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "DbWorker"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_blocking_query_in_an_async_method_whose_awaits_completed_at_once_is_named_in_that_method(string configuration)
    {
        // Item 4: each call of CountVisitsAsync opens a pooled connection and begins a transaction (both complete at
        // once), then counts with a blocking ExecuteScalar. The caller's stretch loops back to its await: the code
        // before its loop (another async method) cannot have run in it; of the loop's calls of the app's (a check, the
        // count, an archive pass), only the count's code can block. When a whole call completes at once (its
        // commit too), the caller's stretch holds two calls, reported once: one to three reports, each the same.
        var reports = Run(configuration, "count-sync");
        var text = Reports.Describe(reports);
        var counts = reports.Where(r => r.Method().StartsWith("Bugs.", StringComparison.Ordinal) && !r.IsRepeats()).ToList();
        Assert.True(counts.Count is >= 1 and <= 3, text);
        foreach (var count in counts)
        {
            // A query held past the hung threshold on a busy machine is also reported while it runs, the same way.
            Assert.True(count.Kind() is "slow-step" or "hung-step", count.GetRawText());
            Assert.True(count.Method() == "Bugs.CountVisitsAsync(NpgsqlDataSource)", count.GetRawText());
            Assert.True(count.GetProperty("firstStep").GetBoolean(), count.GetRawText());
            Assert.True(count.At("location") == At("db.count.query"), count.GetRawText());
            Assert.True(count.At("resumedAt") == At(configuration == "Debug" ? "db.count.start" : "db.count.open"), count.GetRawText());
            // Parked at its commit, or (when that completed at once too) ran to its end; a hung step has not stopped.
            Assert.True(count.Kind() == "hung-step" || count.At("stoppedAt") == At("db.count.stopped") || count.At("stoppedAt") == At("db.count.end"), count.GetRawText());
            Assert.True(count.At("createdAt") == At("db.count.call"), count.GetRawText());
            Assert.True(count.GetProperty("fix").GetString() == "`SqlMapper.ExecuteScalar` blocks the thread: use `await SqlMapper.ExecuteScalarAsync(...)`", count.GetRawText());
        }
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void An_EF_Core_query_run_with_LINQs_synchronous_ToList_is_named_with_EF_Cores_async_operator(string configuration)
    {
        // `Enumerable.ToList` has no twin on its own type: EF Core's is its extension of IQueryable, ToListAsync. Before,
        // the stretch named no call ("the code does not tell which call"); the same query in a synchronous ASP.NET Core
        // handler was not reported at all.
        var reports = Run(configuration, "ef-sync");
        var text = Reports.Describe(reports);
        var report = Assert.Single(reports, r => r.Method().StartsWith("Bugs.", StringComparison.Ordinal) && !r.IsRepeats());
        Assert.True(report.Kind() == "slow-step" && report.Method() == "Bugs.VisitReportAsync(VisitsContext)", text);
        Assert.True(report.At("location") == At("db.ef.query"), text);
        // Resumed after the count; or, when the count's reply came back before its await looked (a loaded machine),
        // from the method's start.
        Assert.True(report.At("resumedAt") == At("db.ef.count") || report.GetProperty("firstStep").GetBoolean(), text);
        Assert.True(report.At("createdAt") == At("db.ef.call"), text);
        Assert.Equal("`Enumerable.ToList` runs the query on this thread, blocking it: use `await EntityFrameworkQueryableExtensions.ToListAsync(...)`",
            report.GetProperty("fix").GetString());
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_blocking_redis_read_is_named_with_its_twin_from_the_base_interface(string configuration)
    {
        // Item 6: IDatabase.StringGet's async twin is declared on IDatabaseAsync, which IDatabase extends.
        var reports = Run(configuration, "redis-sync");
        var profile = Assert.Single(reports, r => r.Method().StartsWith("Bugs.", StringComparison.Ordinal));
        Assert.Equal("slow-step", profile.Kind());
        Assert.Equal("Bugs.LoadProfileAsync(Databases)", profile.Method());
        Assert.Equal(At("db.redis.get"), profile.At("location"));
        // Resumed after the pause command's await; or, when its reply came back before that await looked (a loaded
        // machine), the method's first step ran on through it: then from its start.
        Assert.Contains(profile.At("resumedAt"), new[] { At("db.redis.pause"), At("db.redis.start") });
        Assert.Equal(At("db.redis.stopped"), profile.At("stoppedAt"));
        Assert.Equal(At("db.redis.call"), profile.At("createdAt"));
        Assert.Equal("`IDatabase.StringGet` blocks the thread: use `await IDatabase.StringGetAsync(...)`", profile.GetProperty("fix").GetString());
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_wait_inside_a_librarys_synchronous_api_is_named_at_the_apps_call_with_the_async_twin(string configuration)
    {
        // StackExchange.Redis's ConnectionMultiplexer.Connect waits for its own connect task, which the paused server
        // holds 0.3 s: the wait is the app's call of Connect, not a line of the library's.
        var reports = Run(configuration, "redis-connect");
        var wait = Assert.Single(reports, r => r.Kind() == "blocking-wait" && !r.IsRepeats());
        Assert.Equal(At("db.connect.sync"), wait.At("location"));
        Assert.Equal("Bugs.RedisConnectSyncAsync(Databases)", wait.Method());
        Assert.Equal("`ConnectionMultiplexer.Connect` blocks the thread (it waits for a task inside StackExchange.Redis): use `await ConnectionMultiplexer.ConnectAsync(...)`",
            wait.GetProperty("fix").GetString());
    }

    private static List<System.Text.Json.JsonElement> Run(string configuration, string scenario)
    {
        var env = Servers.DbWorkerEnvironment();
        env["DOTNET_STARTUP_HOOKS"] = Repo.Engine;
        env["ASYNCLENS_DEBUG"] = "1";
        env["ASYNCLENS_FORMAT"] = "json";
        var result = ChildProcess.Dotnet([Repo.Program("DbWorker", configuration), scenario], env);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{scenario} finished", result.Stdout);
        return Reports.Parse(result.Stderr);
    }

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
