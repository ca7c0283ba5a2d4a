using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>
/// A blocking call in async Main's first step, before Main has a task (tests/Targets/Bugs, scenario
/// main-first-step run first): seen from the switch on, under the startup hook and in code.
/// </summary>
public sealed class MainFirstStepTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Bugs", "Scenarios"));

    public static TheoryData<string> Switches => ["hook", "in-code"];

    [Theory]
    [MemberData(nameof(Switches))]
    public void A_blocking_call_before_Main_first_awaits_is_reported_in_the_method_that_made_it(string how)
    {
        var result = how == "hook"
            ? ChildProcess.Dotnet(
                [Repo.Program("Bugs"), "main-first-step"],
                new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" })
            : ChildProcess.Dotnet([Repo.Program("Bugs.InCode"), "main-first-step"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var r = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("slow-step", r.Kind());
        Assert.Equal("MainFirstStep.ConnectAsync()", r.Method());
        Assert.True(r.GetProperty("firstStep").GetBoolean());
        Assert.Equal(At("mainfirst.location"), r.At("location"));
        Assert.Equal(At("mainfirst.started"), r.At("resumedAt"));
        Assert.Equal(At("mainfirst.stopped"), r.At("stoppedAt"));
        Assert.Equal(At("mainfirst.created"), r.At("createdAt"));
        Assert.InRange(r.Duration(), 0.29, 2.0);
        Assert.Equal(
            [$"MainFirstStep.RunAsync() at {At("mainfirst.created")}", $"MainFirstStep.ConnectAsync() at {At("mainfirst.location")}"],
            r.Stack().TakeLast(2));
    }

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
