using System.Text.Json;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on a gRPC service (tests/RealApps/Ledger: Grpc.AspNetCore over HTTP/2, its generated client in the same
/// process), Debug and Release builds. gRPC runs a service method from its own call handler, not from the endpoint's
/// request delegate: the handler is found from the endpoint's gRPC metadata. The seeded audit handler waits 15 ms for a
/// lookup (`.Result`), then sleeps 200 ms: the time decides that the sleep blocked it, not the wait that ran first. The
/// healthy calls (a unary lookup, a server stream) stay silent.
/// </summary>
public sealed class LedgerGrpcTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Ledger"));

    private const string Audit = "AccountsService.Audit(BalanceRequest, ServerCallContext)";

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_gRPC_service_method_that_blocks_its_thread_is_named_at_the_call_that_took_the_time(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Ledger", configuration), "all"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ledger finished", result.Stdout);
        var reports = Reports.Parse(result.Stderr);
        // Three audits: the first in full, the others as its repeats (or in full, on a machine slow enough to space them out).
        Assert.True(reports.All(r => r.Method() == Audit) && reports.Sum(r => r.IsRepeats() ? r.GetProperty("repeats").GetInt32() : 1) == 3, Reports.Describe(reports));
        foreach (var audit in reports.Where(r => !r.IsRepeats()))
        {
            Same("slow-step", audit.Kind(), audit);
            Same(At("ledger.audit.sleep"), audit.At("location"), audit);
            // A Release build has no line for the braces: its first and last statements instead.
            Same(At(configuration == "Debug" ? "ledger.audit.start" : "ledger.audit.wait"), audit.At("resumedAt"), audit);
            Same(At(configuration == "Debug" ? "ledger.audit.end" : "ledger.audit.return"), audit.At("stoppedAt"), audit);
            Same("`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`", audit.GetProperty("fix").GetString(), audit);
            Same($"{Audit} at {At("ledger.audit.sleep")}", audit.Stack()[^1], audit);
        }
    }

    private static void Same<T>(T expected, T actual, JsonElement report)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new Xunit.Sdk.XunitException($"expected {expected}, got {actual} in {report.GetRawText()}");
    }

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
