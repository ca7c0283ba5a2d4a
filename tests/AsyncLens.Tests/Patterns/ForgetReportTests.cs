using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Patterns;

/// <summary>Forget() with no handler and debug mode off: the fault is still reported, as text on standard error.</summary>
public sealed class ForgetReportTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Patterns", "Scenarios"));

    [Fact]
    public void A_forgotten_task_that_faults_is_reported_on_standard_error_with_debug_mode_off()
    {
        var result = ChildProcess.Dotnet([Repo.Program("Patterns"), "forget"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var (file, thrown) = s_at["forget.thrown"];
        var forgot = s_at.Line("forget.line");
        var lines = result.Stderr.Split('\n');
        Assert.Matches(
            $@"^asynclens: unobserved-exception: Forgotten\.NotifyAsync\(string\) faulted with InvalidOperationException: push service refused ada; it was forgotten at Forgotten\.cs:{forgot} by `\.Forget\(\)`, with no error handler \(task \d+\)$",
            lines[0]);
        Assert.Equal(
            [
                $"  thrown at {file}:{thrown} in Forgotten.NotifyAsync(string)",
                $"  created at {file}:{forgot}",
                "  async stack (root first):",
                $"    Forgotten.NotifyAsync(string) at {file}:{thrown}",
                "  exception: System.InvalidOperationException: push service refused ada",
                $"    at Patterns.Scenarios.Forgotten.NotifyAsync(String user) in {file}:line {thrown}",
                "  fix: give `.Forget(...)` a handler that deals with the failure (`task.Forget(ex => logger.LogError(ex, \"...\"))`), or `await` the task",
                "",
            ],
            lines[1..9]);
        Assert.Equal(1, result.Stderr.Split("asynclens:").Length - 1);
    }
}
