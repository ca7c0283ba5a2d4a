using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>No false reports: a busy, healthy program under debug mode produces none.</summary>
public sealed class HealthyProgramTests
{
    [Fact]
    public void A_busy_healthy_program_gets_no_report()
    {
        var result = ChildProcess.Dotnet(
            [Repo.Program("Healthy")],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
            });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("healthy run finished", result.Stdout);
        Assert.True(result.Stderr.Length == 0, "expected no report:\n" + result.Stderr);
    }
}
