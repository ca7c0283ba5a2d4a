using System.Text.Json;
using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.DebugMode;

/// <summary>
/// Async methods whose first step (before their first await that parks) runs where no step of theirs brackets it
/// (tests/Targets/WorkItems, issue 13), Debug and Release builds, one run of each shared by the facts. Each shape runs
/// healthy (a first step that takes no time), then seeded (a 300 ms <c>Thread.Sleep</c> there). Run by a delegate task,
/// whose run the TPL events bracket (a scheduler of its own that runs tasks inline in a work item, as Akka.NET's for
/// <c>ReceiveAsync</c>; a <c>ConcurrentExclusiveSchedulerPair</c>'s; <c>Task.Factory.StartNew</c> and <c>Task.Run</c> of
/// an async lambda; <c>Task.Run</c> of a lambda that resumes the method at once, so that it has completed when the run is
/// judged), the seeded first step is reported at the sleep, from the method's start; before, none was. So is one run by
/// what no TPL event brackets, seen through the execution context it runs in (ContextEntries): a thread-pool work item, a
/// <c>System.Threading.Timer</c> callback, a <c>System.Timers.Timer</c>'s Elapsed handler, a thread of its own that waits
/// for the method (its wait, on a thread of the app's own, is not reported); before, none was. The healthy twins stay
/// silent, and so do a delegate and a work item that block themselves and then call an async method, and a thread
/// consuming a queue whose first item comes late. The same on .NET 11 with debug mode on the runtime's async events alone
/// (<c>net11-events-only</c>), where no event brackets any of these runs: each is seen from the execution context it
/// enters and the park its first step ends at (SlowSteps.EnteredRuns.cs); before, none was reported there.
/// </summary>
public sealed class WorkItemsTests(WorkItemsTests.Runs runs) : IClassFixture<WorkItemsTests.Runs>
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "WorkItems"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    [InlineData("Debug", EventsOnly)]
    [InlineData("Release", EventsOnly)]
    public void Each_seeded_first_step_run_by_a_delegate_task_a_work_item_a_timer_or_a_thread_is_reported_once_and_nothing_else(string configuration, string? leg = null)
    {
        var reports = runs.Reports(configuration, leg);
        string[] expected = [.. new[] { "scheduler", "exclusive", "startnew", "taskrun", "completed", "workitem", "timer", "elapsed", "thread" }.Select(shape => $"slow-step {Method(configuration, shape)}")];
        Assert.True(expected.Order(StringComparer.Ordinal).SequenceEqual(reports.Select(r => $"{r.Kind()} {r.Method()}").Order(StringComparer.Ordinal)),
            Reports.Describe(reports));
    }

    [Theory]
    [InlineData("Debug", "scheduler")]
    [InlineData("Release", "scheduler")]
    [InlineData("Debug", "exclusive")]
    [InlineData("Release", "exclusive")]
    [InlineData("Debug", "startnew")]
    [InlineData("Release", "startnew")]
    [InlineData("Debug", "taskrun")]
    [InlineData("Release", "taskrun")]
    [InlineData("Debug", "completed")]
    [InlineData("Release", "completed")]
    [InlineData("Debug", "workitem")]
    [InlineData("Release", "workitem")]
    [InlineData("Debug", "timer")]
    [InlineData("Release", "timer")]
    [InlineData("Debug", "elapsed")]
    [InlineData("Release", "elapsed")]
    [InlineData("Debug", "thread")]
    [InlineData("Release", "thread")]
    [InlineData("Debug", "scheduler", EventsOnly)]
    [InlineData("Release", "scheduler", EventsOnly)]
    [InlineData("Debug", "exclusive", EventsOnly)]
    [InlineData("Release", "exclusive", EventsOnly)]
    [InlineData("Debug", "startnew", EventsOnly)]
    [InlineData("Release", "startnew", EventsOnly)]
    [InlineData("Debug", "taskrun", EventsOnly)]
    [InlineData("Release", "taskrun", EventsOnly)]
    [InlineData("Debug", "completed", EventsOnly)]
    [InlineData("Release", "completed", EventsOnly)]
    [InlineData("Debug", "workitem", EventsOnly)]
    [InlineData("Release", "workitem", EventsOnly)]
    [InlineData("Debug", "timer", EventsOnly)]
    [InlineData("Release", "timer", EventsOnly)]
    [InlineData("Debug", "elapsed", EventsOnly)]
    [InlineData("Release", "elapsed", EventsOnly)]
    [InlineData("Debug", "thread", EventsOnly)]
    [InlineData("Release", "thread", EventsOnly)]
    public void A_first_step_run_by_a_delegate_task_a_work_item_a_timer_or_a_thread_is_named_at_its_sleep_from_its_start(string configuration, string shape, string? leg = null)
    {
        var r = Assert.Single(runs.Reports(configuration, leg), x => x.Method() == Method(configuration, shape));
        Same(true, r.GetProperty("firstStep").GetBoolean(), r);
        Same(At($"{shape}.location"), r.At("location"), r);
        // A Release build has no line for a brace: the first statement instead.
        Same(At(configuration == "Debug" ? $"{shape}.started" : $"{shape}.location"), r.At("resumedAt"), r);
        Same(At($"{shape}.stopped"), r.At("stoppedAt"), r);
        Same(At($"{shape}.created"), r.At("createdAt"), r);
        Same("`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`", r.GetProperty("fix").GetString(), r);
        Same($"{r.Method()} at {At($"{shape}.location")}", r.Stack()[^1], r);
        Assert.True(r.Duration() is >= 0.25 and < 2.0, r.GetRawText());
    }

    // The seeded method of a shape: a method of a class of its own, or an async lambda named by its first line (its
    // brace in Debug, its first statement in Release).
    private static string Method(string configuration, string shape) => shape switch
    {
        "scheduler" => "OwnScheduler.HandleAsync(int)",
        "exclusive" => "Exclusive.HandleAsync(int)",
        "startnew" => $"StartNew.RunAsync lambda at Shapes.cs:{s_at[configuration == "Debug" ? "startnew.started" : "startnew.location"].Line}",
        "taskrun" => $"TaskRun.RunAsync lambda at Shapes.cs:{s_at[configuration == "Debug" ? "taskrun.started" : "taskrun.location"].Line}",
        "completed" => "Completed.HandleAsync(int, Task)",
        "workitem" => "WorkItem.HandleAsync(int, TaskCompletionSource)",
        "timer" => "Ticks.TickAsync(int, TaskCompletionSource)",
        "elapsed" => "Elapsed.OnElapsedAsync(int, TaskCompletionSource)",
        "thread" => "OwnThread.WorkAsync(int)",
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    private const string EventsOnly = DebugModeRuns.NetElevenEventsOnly;

    /// <summary>One run of the target per build on .NET 10 and on .NET 11's async events alone, all started at once, shared by the facts.</summary>
    public sealed class Runs() : DebugModeRuns("WorkItems", "work items done", [NetElevenEventsOnly], "all");
}
