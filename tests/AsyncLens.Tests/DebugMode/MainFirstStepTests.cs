using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>
/// A blocking call in async Main's first step, before Main has a task (tests/Targets/Bugs, scenario
/// main-first-step run first): seen from the switch on, under the startup hook and in code, and on .NET 11's async
/// events alone (no wait event ends that step there: its thread's parks do). And the main thread blocked on Main after
/// a short first step (tests/Targets/MainWait) is no step of Main's.
/// </summary>
public sealed class MainFirstStepTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Bugs", "Scenarios"));

    private static readonly SourceMarkers s_wait = new(Repo.Source("tests", "Targets", "MainWait"));

    public static TheoryData<string> Sources => ["tpl", "async-events-only"];

    // A target under the startup hook, on .NET 10's TPL events or on .NET 11's async events alone.
    private static ProcessResult Hooked(string[] program, string source) => ChildProcess.Dotnet(
        program,
        new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
            ["ASYNCLENS_DEBUG"] = "1",
            ["ASYNCLENS_FORMAT"] = "json",
            ["ASYNCLENS_STEP_SOURCE"] = source == "tpl" ? null : source,
        },
        runtime: source == "tpl" ? TargetRuntime.Net10 : TargetRuntime.Net11);

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
        SameFirstStep(r);
        Assert.Equal(At("mainfirst.created"), r.At("createdAt"));
        Assert.InRange(r.Duration(), 0.29, 2.0);
        Assert.Equal(
            [$"MainFirstStep.RunAsync() at {At("mainfirst.created")}", $"MainFirstStep.ConnectAsync() at {At("mainfirst.location")}"],
            r.Stack().TakeLast(2));
    }

    [Fact]
    public void On_the_async_events_alone_a_blocking_call_before_Main_first_awaits_is_reported_in_the_method_that_made_it()
    {
        var result = Hooked([Repo.Program("Bugs"), "main-first-step"], "async-events-only");
        Assert.True(result.ExitCode == 0, result.ToString());
        var r = Assert.Single(Reports.Parse(result.Stderr));
        SameFirstStep(r);
        // Judged at the exit, on another thread: what compiled meanwhile is the process's, an upper bound of its thread's,
        // taken off as for the events' steps (0.290-0.295 s for the 0.3 s sleep at load 8-16, where the TPL path read 0.30-0.31).
        Assert.InRange(r.Duration(), 0.27, 2.0);
        Assert.Equal(At("mainfirst.created"), r.At("createdAt"));
        // The first step found from its park has no task whose awaiters would give the frames above it.
        Assert.Equal([$"MainFirstStep.ConnectAsync() at {At("mainfirst.location")}"], r.Stack());
    }

    // Before 2026-12-06 the async events alone judged the main thread's wait as Main's first step, to the exit: a second
    // report of PollAsync, "from its start", 0.9 s (counted as a repeat of the first's site).
    [Theory]
    [MemberData(nameof(Sources))]
    public void The_main_thread_blocked_on_Main_is_no_step_and_the_slow_step_after_it_is_reported_once(string source)
    {
        var result = Hooked([Repo.Program("MainWait")], source);
        Assert.True(result.ExitCode == 0, result.ToString());
        var r = Assert.Single(Reports.Parse(result.Stderr));
        Assert.Equal("slow-step", r.Kind());
        Assert.Equal("Poller.PollAsync()", r.Method());
        Assert.False(r.TryGetProperty("firstStep", out var first) && first.GetBoolean());
        Assert.Equal(Wait("mainwait.location"), r.At("location"));
        Assert.Equal(Wait("mainwait.resumed"), r.At("resumedAt"));
        Assert.Equal(Wait("mainwait.stopped"), r.At("stoppedAt"));
        Assert.InRange(r.Duration(), 0.29, 2.0);
    }

    private static string Wait(string tag) => $"{s_wait[tag].File}:{s_wait[tag].Line}";

    // Bugs `main-first-step`'s report, whatever the path: ConnectAsync's first step, at its blocking call, from its start to its first await.
    private static void SameFirstStep(System.Text.Json.JsonElement r)
    {
        Assert.Equal("slow-step", r.Kind());
        Assert.Equal("MainFirstStep.ConnectAsync()", r.Method());
        Assert.True(r.GetProperty("firstStep").GetBoolean());
        Assert.Equal(At("mainfirst.location"), r.At("location"));
        Assert.Equal(At("mainfirst.started"), r.At("resumedAt"));
        Assert.Equal(At("mainfirst.stopped"), r.At("stoppedAt"));
    }

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
