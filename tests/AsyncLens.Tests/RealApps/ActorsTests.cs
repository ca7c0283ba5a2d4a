using System.Text.Json;
using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on an Akka.NET actor system (tests/RealApps/Actors: actors on Akka's default dispatcher, the thread pool),
/// Debug and Release builds, one run of each shared by the facts. An actor's handler blocks on an Ask (`.Result`): Akka
/// completes an Ask's task with a TaskCompletionSource, which raises no event when it completes, and the pool thread Akka
/// ran the handler on then has nothing to do for 2.5 s. The wait is reported at its line, lasting what it lasted (the
/// inventory answers after 300 ms), not until that thread's next task event (was 2-2.5 s). A `ReceiveAsync` handler
/// sleeps 300 ms before its first await: Akka runs it in a delegate task of the actor's own scheduler, and it is reported
/// as that handler's first step (was not reported at all). The orders asked with `await` stay silent.
/// </summary>
public sealed class ActorsTests(ActorsTests.Runs runs) : IClassFixture<ActorsTests.Runs>
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Actors"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_handler_blocking_on_an_Ask_is_reported_for_as_long_as_it_blocked(string configuration)
    {
        var method = Lambda(configuration, s_at["actors.audit.wait"].Line - 1, s_at["actors.audit.wait"].Line);
        var wait = Assert.Single(runs.Reports(configuration), r => r.Method() == method);
        Same("blocking-wait", wait.Kind(), wait);
        Same(At("actors.audit.wait"), wait.At("location"), wait);
        // 300 ms and what a loaded machine adds; the thread's next event came 2.5 s later.
        Assert.True(wait.Duration() is >= 0.25 and < 1.5, wait.GetRawText());
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_ReceiveAsync_handler_that_sleeps_before_its_first_await_is_named_at_the_sleep_from_its_start(string configuration)
    {
        var method = Lambda(configuration, s_at["actors.restock.start"].Line, s_at["actors.restock.sleep"].Line);
        var slow = Assert.Single(runs.Reports(configuration), r => r.Method() == method);
        Same("slow-step", slow.Kind(), slow);
        Same(true, slow.GetProperty("firstStep").GetBoolean(), slow);
        Same(At("actors.restock.sleep"), slow.At("location"), slow);
        Same(At(configuration == "Debug" ? "actors.restock.start" : "actors.restock.sleep"), slow.At("resumedAt"), slow);
        Same(At("actors.restock.await"), slow.At("stoppedAt"), slow);
        // Created where the constructor registered the lambda, the one place that makes a delegate of it (Akka's code calls it).
        Same(At("actors.restock.register"), slow.At("createdAt"), slow);
        Same("`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`", slow.GetProperty("fix").GetString(), slow);
        Same($"{slow.Method()} at {At("actors.restock.sleep")}", slow.Stack()[^1], slow);
        Assert.True(slow.Duration() is >= 0.25 and < 2.0, slow.GetRawText());
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void Nothing_else_is_reported(string configuration)
    {
        var reports = runs.Reports(configuration);
        Assert.True(reports.Count == 2, Reports.Describe(reports));
    }

    // A lambda is named by its first line: its brace in Debug, its first statement in Release.
    private static string Lambda(string configuration, int brace, int firstStatement) =>
        $"Orders constructor lambda at Program.cs:{(configuration == "Debug" ? brace : firstStatement)}";

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    /// <summary>One run of the target per build, both started at once, shared by the facts.</summary>
    public sealed class Runs() : DebugModeRuns("Actors", "actors done");
}
