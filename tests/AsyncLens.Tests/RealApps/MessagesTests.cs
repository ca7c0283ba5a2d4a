using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on a Wolverine message bus (tests/RealApps/Messages: handlers run by code Wolverine generates at startup,
/// published messages on in-process queues), Debug and Release builds. A published message's handler blocks 0.4 s before
/// its first await: Wolverine runs it inline in a step of its queue's loop (JasperFx's <c>Block&lt;T&gt;.processAsync</c>),
/// after a delegate task ran nested in that step. It is reported as the handler's first step at the blocking line; it
/// was not reported at all (the records created after the nested task were not linked to the step, and the loop's own
/// code, a package's, named a call of its own and ended the walk down to the handler). A handler blocking on a task is
/// reported at its line; the healthy handlers, and one whose exception Wolverine handles, stay silent.
/// </summary>
public sealed class MessagesTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Messages"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_queued_handler_blocking_before_its_first_await_and_one_blocking_on_a_task_are_reported(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Messages", configuration)],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("messages done", result.Stdout);
        var reports = Reports.Parse(result.Stderr);
        Assert.True(reports.Count == 2, Describe(reports));

        var ship = Assert.Single(reports, r => r.Kind() == "slow-step");
        Same("ShipOrderHandler.Handle(ShipOrder)", ship.Method(), ship);
        Same($"{s_at["messages.ship.sleep"].File}:{s_at["messages.ship.sleep"].Line}", ship.At("location"), ship);
        Same($"{s_at["messages.ship.first-await"].File}:{s_at["messages.ship.first-await"].Line}", ship.At("stoppedAt"), ship);
        Assert.True(ship.GetProperty("firstStep").GetBoolean(), ship.GetRawText());
        Same("`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`", ship.GetProperty("fix").GetString(), ship);
        Assert.True(ship.Duration() >= 0.3, ship.GetRawText());

        var audit = Assert.Single(reports, r => r.Kind() == "blocking-wait");
        Same("AuditOrderHandler.Handle(AuditOrder)", audit.Method(), audit);
        Same($"{s_at["messages.audit.wait"].File}:{s_at["messages.audit.wait"].Line}", audit.At("location"), audit);
        // Main runs the handler inline (InvokeAsync), at the line that sent it, not at the await it last resumed from.
        Same($"Program.Main(string[]) at {s_at["messages.main.audit"].File}:{s_at["messages.main.audit"].Line}", audit.Stack()[0], audit);
        Same($"AuditOrderHandler.Handle(AuditOrder) at {s_at["messages.audit.wait"].File}:{s_at["messages.audit.wait"].Line}", audit.Stack()[^1], audit);
    }
}
