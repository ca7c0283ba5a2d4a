using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>The exact text a person sees on stderr, from a real run (only times and ids vary).</summary>
public sealed class TextReportTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Bugs", "Scenarios"));

    [Fact]
    public void A_slow_step_reads_the_same_every_time()
    {
        var result = ChildProcess.Dotnet(
            [Repo.Program("Bugs"), "slow"],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1" });
        var expected = SlowStepText("asynclens: slow-step: SlowStep.HandleAsync(int) ran <s> s on thread <n> without yielding (task <n>)");
        var pattern = "^" + Regex.Escape(expected).Replace("<s>", @"0\.[0-9]{3}").Replace("<n>", "[0-9]+") + "$";
        Assert.Matches(new Regex(pattern), result.Stderr);
        Assert.Equal(0, result.ExitCode);
    }

    /// <summary>The report of Bugs <c>slow</c> as text, under <paramref name="header"/> (its first line), then a blank line.</summary>
    internal static string SlowStepText(string header)
    {
        var file = s_at["slow.location"].File;
        var program = Repo.Source("tests", "Targets", "Bugs", "Program.cs");
        var runner = Repo.Source("tests", "Targets", "Bugs", "Scenarios", "Runner.cs");
        return $"""
            {header}
              at {file}:{s_at.Line("slow.location")}
              ran from {file}:{s_at.Line("slow.resumed")} (resumed here) to {file}:{s_at.Line("slow.stopped")} (stopped here)
              created at {file}:{s_at.Line("slow.created")} in SlowStep.RunAsync()
              async stack (root first):
                Program.Main(string[]) at {program}:1
                Runner.RunAsync(string[]) at {runner}:{s_at.Line("runner.await")}
                SlowStep.RunAsync() at {file}:{s_at.Line("slow.created")}
                SlowStep.HandleAsync(int) at {file}:{s_at.Line("slow.resumed")}
              fix: `Thread.Sleep` blocks the thread: use `await Task.Delay(...)`


            """.ReplaceLineEndings("\n");
    }
}
