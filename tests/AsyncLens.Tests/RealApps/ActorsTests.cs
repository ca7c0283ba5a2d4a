using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on an Akka.NET actor system (tests/RealApps/Actors: actors on Akka's default dispatcher, the thread pool),
/// Debug and Release builds. An actor's handler blocks on an Ask (`.Result`): Akka completes an Ask's task with a
/// TaskCompletionSource, which raises no event when it completes, and the pool thread Akka ran the handler on then has
/// nothing to do for 2.5 s. The wait is reported at its line, lasting what it lasted (the inventory answers after 300 ms),
/// not until that thread's next task event (was 2-2.5 s); the orders asked with `await` stay silent.
/// </summary>
public sealed class ActorsTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Actors"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_handler_blocking_on_an_Ask_is_reported_for_as_long_as_it_blocked(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Actors", configuration)],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("actors done", result.Stdout);
        var reports = Reports.Parse(result.Stderr);
        var wait = Assert.Single(reports);
        Same("blocking-wait", wait.Kind(), wait);
        // The lambda is named by its first line: its brace in Debug, its first statement in Release.
        var lambdaLine = s_at["actors.audit.wait"].Line - (configuration == "Debug" ? 1 : 0);
        Same($"Orders constructor lambda at Program.cs:{lambdaLine}", wait.Method(), wait);
        Same($"{s_at["actors.audit.wait"].File}:{s_at["actors.audit.wait"].Line}", wait.At("location"), wait);
        // 300 ms and what a loaded machine adds; the thread's next event came 2.5 s later.
        Assert.True(wait.Duration() is >= 0.25 and < 1.5, wait.GetRawText());
    }

}
