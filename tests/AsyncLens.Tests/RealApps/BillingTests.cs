using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on Hangfire background jobs (tests/RealApps/Billing: in-memory storage, one worker), Debug and Release
/// builds. Hangfire finds a job's method by reflection and invokes it from a delegate task of its own, on a pool thread.
/// The invoice job computes 0.3-0.4 s before its first await, which goes through Polly's retry pipeline: the park makes
/// the job lambda's box, then Polly's, then the job's, all after the one gap. It is reported as the job's first step at
/// its hashing line, its stack the job's own frame, created where it was enqueued. It went unreported: the gap was the
/// innermost box's (the lambda's, whose first step names nothing) and the others of the same park were not asked; and
/// while the process still compiled (Hangfire's and Polly's first runs) a first step of the app's run by a delegate task
/// of a package's counted only with a blocking call. A synchronous job that blocks (its worker's thread is there for
/// that) and an async job that only awaits stay silent. On .NET 11 with debug mode on the runtime's async events alone
/// (<c>net11-events-only</c>) Hangfire's delegate task is bracketed by no event: its run is seen from the execution context
/// it enters, and the job's first step from the park that ends it (SlowSteps.EnteredRuns.cs); before, it went unreported.
/// </summary>
public sealed class BillingTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Billing"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", "net11")]
    [InlineData("Release", "net11")]
    [InlineData("Debug", EventsOnly)]
    [InlineData("Release", EventsOnly)]
    public void A_job_computing_before_its_first_await_is_reported_at_its_line_and_nothing_else(string configuration, string runtime = "net10")
    {
        var result = ChildProcess.Dotnet([Repo.Program("Billing", configuration)],
            new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
                ["ASYNCLENS_DEBUG"] = "1",
                ["ASYNCLENS_FORMAT"] = "json",
                ["ASYNCLENS_STEP_SOURCE"] = runtime == EventsOnly ? "async-events-only" : null,
            },
            runtime: TargetRuntime.Named(runtime == EventsOnly ? "net11" : runtime));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("billing done", result.Stdout);
        var reports = Reports.Parse(result.Stderr);
        // On the async events alone no wait on a task is seen: Main's last step, blocked in the server's Dispose while its
        // threads stop, may be reported as a slow step of Main's too (docs/async-events.md), and only that.
        if (runtime == EventsOnly)
            reports.RemoveAll(r => r.Kind() == "slow-step" && r.Method() == "Program.Main(string[])" && r.At("resumedAt") == At("billing.main.wait"));

        var r = Assert.Single(reports);
        Same("slow-step", r.Kind(), r);
        Same("InvoiceJob.RunAsync(int)", r.Method(), r);
        Same(true, r.GetProperty("firstStep").GetBoolean(), r);
        Same(At("billing.invoice.hash"), r.At("location"), r);
        // A Release build has no line for a brace: the first statement instead.
        Same(configuration == "Debug" ? At("billing.invoice.started") : $"{s_at["billing.invoice.started"].File}:{s_at["billing.invoice.started"].Line + 1}", r.At("resumedAt"), r);
        Same(At("billing.invoice.first-await"), r.At("stoppedAt"), r);
        Same($"{At("billing.enqueue.invoice")} in Program.Main(string[])", r.CreatedAtIn(), r);
        Same($"InvoiceJob.RunAsync(int) at {At("billing.invoice.hash")}", string.Join(" <- ", r.Stack()), r);
        Assert.StartsWith("`SHA256.HashData` computes over data already in memory", r.GetProperty("fix").GetString());
        Assert.True(r.Duration() >= 0.15, r.GetRawText());
    }

    private const string EventsOnly = DebugModeRuns.NetElevenEventsOnly;

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
