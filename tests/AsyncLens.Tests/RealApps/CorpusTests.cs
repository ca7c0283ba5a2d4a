using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>The corpus runs: the database worker against the private PostgreSQL and redis-server, in both builds.</summary>
public sealed class CorpusTests
{
    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void DbWorker_runs_its_healthy_work_against_real_servers(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("DbWorker", configuration), "healthy"], Servers.DbWorkerEnvironment());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("healthy finished", result.Stdout);
    }
}
