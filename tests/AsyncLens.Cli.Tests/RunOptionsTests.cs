using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>What <c>asynclens run</c> passes on: the threshold, the format, the exit code, the program's own output.</summary>
public sealed class RunOptionsTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Bugs", "Scenarios"));

    [Fact]
    public void A_150_ms_step_is_slow_at_the_default_threshold()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "--format", "json", "--", Repo.Program("Bugs"), "threshold"]);
        var report = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("slow-step", report.Kind());
        Assert.Equal("Threshold.StepAsync()", report.Method());
        Assert.Equal($"{s_at["threshold.location"].File}:{s_at.Line("threshold.location")}", report.At("location"));
    }

    [Fact]
    public void The_slow_option_raises_the_threshold()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "--slow", "250ms", "--", Repo.Program("Bugs"), "threshold"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("scenario threshold\n", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void The_program_exit_code_is_passed_through()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "--", Repo.Program("Bugs"), "no-such-scenario"]);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("unknown scenario 'no-such-scenario'\n", result.Stderr);
    }

    [Fact]
    public void Text_is_the_default_format_and_goes_to_stderr()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "--", Repo.Program("Bugs"), "threshold"]);
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("asynclens: slow-step: Threshold.StepAsync() ran 0.", result.Stderr);
    }
}
