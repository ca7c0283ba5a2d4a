using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// A database error in a fire-and-forget update (issue 13, item 13): Npgsql's PostgresException has a message of
/// several lines, and it comes through Dapper's and Npgsql's frames; the report stays one block, and names the
/// user's line.
/// </summary>
public sealed class ExceptionReportTests
{
    private static readonly SourceMarkers s_db = new(Repo.Source("tests", "RealApps", "DbWorker"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_database_error_is_one_block_at_the_users_await(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("DbWorker", configuration), "pg-unobserved"], DebugModeWithDatabases());
        Assert.True(result.ExitCode == 0, result.ToString());
        var query = $"{s_db["db.unobserved.query"].File}:{s_db["db.unobserved.query"].Line}";
        var forget = $"{s_db["db.unobserved.forget"].File}:{s_db["db.unobserved.forget"].Line}";
        var block = result.Stderr.Split('\n').TakeWhile(l => l.Length > 0).ToList();
        Assert.Equal(
            [
                $"asynclens: unobserved-exception: Bugs.MarkShippedAsync(NpgsqlDataSource, int) faulted with PostgresException: 42P01: relation \"shipments\" does not exist, and nothing awaited it or read its exception (task {TaskId(block[0])})",
                $"  thrown at {query} in Bugs.MarkShippedAsync(NpgsqlDataSource, int)",
                $"  created at {forget} in Bugs.PgUnobservedAsync(Databases)",
                "  async stack (root first):",
                $"    Bugs.MarkShippedAsync(NpgsqlDataSource, int) at {query}",
                "  exception: Npgsql.PostgresException: 42P01: relation \"shipments\" does not exist",
                "    POSITION: 8",
            ],
            block.Take(7));
        Assert.All(block.Skip(1), line => Assert.StartsWith("  ", line));
        Assert.StartsWith("  fix: ", block[^1]);
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_worker_that_dies_with_redis_in_use_gets_no_report_but_its_crash(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("DbWorker", configuration), "redis-crash"], DebugModeWithDatabases());
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Unhandled exception. System.InvalidOperationException: job 1 has no handler", result.Stderr);
        Assert.DoesNotContain("asynclens:", result.Stderr);
    }

    private static Dictionary<string, string?> DebugModeWithDatabases()
    {
        var env = new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1" };
        foreach (var (name, value) in Servers.DbWorkerEnvironment())
            env[name] = value;
        return env;
    }

    private static string TaskId(string firstLine) => firstLine[(firstLine.LastIndexOf("(task ", StringComparison.Ordinal) + 6)..^1];
}

/// <summary>A `.Result` inside an argument (issue 13, item 13): in Release the frame's IL offset is the line before's.</summary>
public sealed class WaitLineTests
{
    private static readonly SourceMarkers s_pipelines = new(Repo.Source("tests", "RealApps", "Pipelines"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_result_inside_an_argument_is_reported_at_its_own_line(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Pipelines", configuration), "summary"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        var r = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("blocking-wait", r.Kind());
        Assert.Equal($"{s_pipelines["pipe.summary.wait"].File}:{s_pipelines["pipe.summary.wait"].Line}", r.At("location"));
    }
}
