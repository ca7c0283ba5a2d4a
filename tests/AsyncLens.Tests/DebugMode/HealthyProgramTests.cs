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

/// <summary>A process that stands still (a vCPU taken away, swapping, SIGSTOP) does not make its steps slow.</summary>
public sealed class StallTests
{
    [Fact]
    public async Task Steps_the_whole_process_was_stopped_in_are_not_slow()
    {
        Task? stopper = null;
        var result = ChildProcess.DotnetInteractive(
            [Repo.Program("Healthy"), "steps"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" },
            line =>
            {
                if (line.StartsWith("steps ", StringComparison.Ordinal) && int.TryParse(line["steps ".Length..], out var pid))
                    stopper = Task.Run(() => StopFiveTimes(pid));
            });
        Assert.NotNull(stopper);
        await stopper;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("steps done", result.Stdout);
        Assert.True(result.Stderr.Length == 0, "expected no report:\n" + result.Stderr);
    }

    // Each stop lands inside a 40 ms step: without the correction, every one is a 300 ms slow step.
    private static void StopFiveTimes(int pid)
    {
        for (var i = 0; i < 5; i++)
        {
            Thread.Sleep(400);
            Signals.Send("-STOP", pid);
            Thread.Sleep(300);
            Signals.Send("-CONT", pid);
        }
    }
}

/// <summary>Bounded memory: no growth with completed tasks.</summary>
public sealed class ChurnTests
{
    [Fact]
    public void Memory_stays_flat_while_hundreds_of_thousands_of_tasks_come_and_go()
    {
        var result = ChildProcess.Dotnet(
            [Repo.Program("Healthy"), "churn"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stderr);
        var kb = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l.Split(' ')[2])).ToArray();
        Assert.Equal(5, kb.Length);
        // Round 1 has warmed everything up (symbols, caches); later rounds may not keep more than noise.
        Assert.True(kb[^1] <= kb[1] + 1024, "managed heap grew: " + string.Join(" KB, ", kb) + " KB");
    }
}

/// <summary>A missing PDB gives method names without lines, not an error.</summary>
public sealed class MissingPdbTests
{
    [Fact]
    public void Without_a_pdb_reports_name_methods_and_give_no_lines()
    {
        var result = ChildProcess.Dotnet(
            [Repo.Program("Bugs.NoPdb"), "slow"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("slow-step", report.Kind());
        Assert.Equal("SlowStep.HandleAsync(int)", report.Method());
        Assert.Null(report.At("location"));
        Assert.Null(report.At("createdAt"));
        Assert.Equal(["SlowStep.RunAsync()", "SlowStep.HandleAsync(int)"], report.Stack().TakeLast(2));
    }
}
