using System.Collections.Concurrent;
using System.Text.Json;
using Xunit;

namespace AsyncLens.Testing;

/// <summary>Runs of tests/Targets/Patterns under some switch, one process per scenario, each run once per test class.</summary>
public abstract class PatternRuns
{
    private readonly ConcurrentDictionary<string, Lazy<(ProcessResult Result, List<JsonElement> Reports)>> _runs = new();
    private readonly Func<string, (ProcessResult Result, string ReportText)> _start;

    /// <param name="start">Runs the program with the scenario; returns its result and the text its reports went to.</param>
    private protected PatternRuns(Func<string, (ProcessResult Result, string ReportText)> start) => _start = start;

    internal (ProcessResult Result, List<JsonElement> Reports) Of(string scenario) =>
        _runs.GetOrAdd(scenario, s => new Lazy<(ProcessResult, List<JsonElement>)>(() =>
        {
            var (result, text) = _start(s);
            return (result, Reports.Parse(text));
        })).Value;
}

/// <summary>
/// The reports debug mode gives for the chapter's four bug patterns (issue 16: tests/Targets/Patterns), whichever switch
/// turned it on: exact kind, method, and file:line of the bug, of the creation site and of the stack; and silence for the
/// same code made right.
/// </summary>
public abstract class PatternFacts
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Patterns", "Scenarios"));
    private readonly PatternRuns _runs;

    private protected PatternFacts(PatternRuns runs) => _runs = runs;

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    // The one report of the scenario's bug, and no other, but for a slow step: the first exception a process throws can
    // take over 100 ms on a loaded machine (the runtime loading its exception machinery), a slow step of its own.
    private JsonElement Only(string scenario, string kind, string method)
    {
        var (result, reports) = _runs.Of(scenario);
        var others = reports.Where(r => r.Kind() != "slow-step").ToList();
        Assert.True(others.Count == 1 && others[0].Kind() == kind && others[0].Method() == method,
            $"expected one {kind} for {method}, got:\n{Reports.Describe(reports)}\n{result}");
        return others[0];
    }

    [Fact]
    public void Forget_with_no_handler_reports_the_fault_at_once_naming_the_line_that_forgot_the_task()
    {
        var r = Only("forget", "unobserved-exception", "Forgotten.NotifyAsync(string)");
        Assert.Equal(At("forget.thrown"), r.At("location"));
        Assert.Equal(At("forget.line"), r.At("createdAt"));
        Assert.Equal([$"Forgotten.NotifyAsync(string) at {At("forget.thrown")}"], r.Stack());
        Assert.StartsWith(
            $"Forgotten.NotifyAsync(string) faulted with InvalidOperationException: push service refused ada; it was forgotten at Forgotten.cs:{s_at.Line("forget.line")} by `.Forget()`, with no error handler (task ",
            r.GetProperty("message").GetString());
        Assert.Equal("System.InvalidOperationException", r.GetProperty("exception").GetProperty("type").GetString());
        Assert.Contains("scenario forget done", _runs.Of("forget").Result.Stdout);
    }

    [Fact]
    public void Async_void_crash_is_reported_before_the_process_goes_down()
    {
        var r = Only("async-void", "async-void-crash", "AsyncVoid.OnClicked(object, EventArgs)");
        Assert.NotEqual(0, _runs.Of("async-void").Result.ExitCode);
        Assert.Equal(At("void.thrown"), r.At("location"));
        Assert.Equal(At("void.subscribed"), r.At("createdAt")); // the line of the caller (an async method) that handed it over
        Assert.Equal("AsyncVoid.RunAsync()", r.GetProperty("createdAt").GetProperty("method").GetString());
        Assert.Equal([$"AsyncVoid.OnClicked(object, EventArgs) at {At("void.thrown")}"], r.Stack());
        Assert.Equal("the order form is gone", r.GetProperty("exception").GetProperty("message").GetString());
        Assert.StartsWith("make it `async Task`", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Async_void_that_throws_before_its_first_await_is_reported_with_its_caller()
    {
        var r = Only("async-void-sync", "async-void-crash", "AsyncVoid.OnSubmitted(object, EventArgs)");
        Assert.Equal(At("void-sync.thrown"), r.At("location"));
        Assert.Equal(At("void.raised"), r.At("createdAt")); // its direct caller, on the stack it threw on
    }

    [Fact]
    public void WhenAll_exceptions_the_await_never_threw_are_listed_at_the_await()
    {
        var r = Only("lost", "lost-exceptions", "LostExceptions.SyncAllAsync()");
        Assert.Equal(At("lost.await"), r.At("location"));
        Assert.Equal(At("lost.called"), r.At("createdAt"));
        Assert.Equal("LostExceptions.RunAsync()", r.GetProperty("createdAt").GetProperty("method").GetString());
        Assert.Equal([$"LostExceptions.RunAsync() at {At("lost.called")}", $"LostExceptions.SyncAllAsync() at {At("lost.await")}"], r.Stack().TakeLast(2));
        Assert.Equal("replica refused users", r.GetProperty("exception").GetProperty("message").GetString());
        var lost = Assert.Single(r.GetProperty("lostExceptions").EnumerateArray());
        Assert.Equal("System.IO.IOException", lost.GetProperty("type").GetString());
        Assert.Equal("archive refused orders", lost.GetProperty("message").GetString());
        Assert.Equal("LostExceptions.ArchiveAsync(string, int)", lost.GetProperty("method").GetString());
        Assert.Equal(At("lost.thrown"), lost.At("thrownAt"));
        Assert.Equal(At("lost.orders"), lost.At("createdAt"));
        Assert.Contains("WithAllExceptions()", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Cleanup_awaited_with_the_token_that_canceled_the_work_is_reported_at_the_line_in_the_finally()
    {
        var r = Only("cleanup", "cancelled-cleanup", "CancelledCleanup.CopyAsync(CancelledCleanup.Connection, CancellationToken)");
        Assert.Equal(At("cleanup.await"), r.At("location"));
        Assert.Equal(At("cleanup.cancelled"), r.At("cancelledAt"));
        Assert.Equal(At("cleanup.called"), r.At("createdAt"));
        Assert.Equal(
            [$"CancelledCleanup.RunAsync() at {At("cleanup.called")}", $"CancelledCleanup.CopyAsync(CancelledCleanup.Connection, CancellationToken) at {At("cleanup.await")}"],
            r.Stack().TakeLast(2));
        Assert.Equal("System.Threading.Tasks.TaskCanceledException", r.GetProperty("exception").GetProperty("type").GetString());
        Assert.Contains("AsyncCleanup.RunAsync", r.GetProperty("fix").GetString());
        Assert.Contains("connection closed: False", _runs.Of("cleanup").Result.Stdout);
    }

    [Fact]
    public void A_DisposeAsync_given_the_canceled_token_is_reported_at_its_await_and_at_the_using_that_called_it()
    {
        var r = Only("dispose", "cancelled-cleanup", "CancelledDispose.Session.DisposeAsync()");
        Assert.Equal(At("dispose.await"), r.At("location"));
        // It threw before it ever awaited: no task of its own, its caller read from the thread's stack. The call to
        // DisposeAsync is the using block's end in a Debug build; optimized code's IL offset there is the line before's
        // (docs/debug-mode.md#limits, "The line that waited").
        var createdAt = r.At("createdAt");
        Assert.Contains(createdAt, new[] { At("dispose.called"), At("dispose.cancelled") });
        Assert.Equal([$"CancelledDispose.RunAsync() at {createdAt}", $"CancelledDispose.Session.DisposeAsync() at {At("dispose.await")}"], r.Stack());
        Assert.Equal("System.Threading.Tasks.TaskCanceledException", r.GetProperty("exception").GetProperty("type").GetString());
        Assert.Contains("AsyncCleanup.RunAsync", r.GetProperty("fix").GetString());
        Assert.Contains("session flushed: False", _runs.Of("dispose").Result.Stdout);
    }

    [Fact]
    public void Blocking_on_a_task_whose_continuation_is_queued_to_the_same_thread_is_a_deadlock_reported_while_stuck()
    {
        var r = Only("deadlock", "sync-over-async-deadlock", "Deadlock.OnLoad()");
        Assert.Equal(At("deadlock.wait"), r.At("location"));
        Assert.Equal(At("deadlock.await"), r.At("continuationAt"));
        Assert.Equal(At("deadlock.await"), r.GetProperty("waitingOn").At("parkedAt"));
        Assert.True(r.GetProperty("ongoing").GetBoolean());
        // Within twice the slow threshold (100 ms) and a watchdog tick (25 ms) on a quiet machine; on a loaded one the
        // watchdog itself waits for a CPU (0.271 s read at load 20): here, that it came while the thread was still stuck.
        Assert.InRange(r.Duration(), 0.1, 1.0);
        Assert.Equal([$"Deadlock.OnLoad() at {At("deadlock.wait")}"], r.Stack());
        Assert.Contains("result: gave up", _runs.Of("deadlock").Result.Stdout);
    }

    [Fact]
    public void Blocking_inside_a_one_at_a_time_scheduler_on_a_task_whose_continuation_is_queued_to_it_is_a_deadlock_too()
    {
        var r = Only("exclusive", "sync-over-async-deadlock", "ExclusiveDeadlock.Refresh()");
        Assert.Equal(At("exclusive.wait"), r.At("location"));
        Assert.Equal(At("exclusive.await"), r.At("continuationAt"));
        Assert.Equal(At("exclusive.await"), r.GetProperty("waitingOn").At("parkedAt"));
        Assert.True(r.GetProperty("ongoing").GetBoolean());
        // Within twice the slow threshold (100 ms) and a watchdog tick (25 ms) on a quiet machine; on a loaded one the
        // watchdog itself waits for a CPU (0.271 s read at load 20): here, that it came while the thread was still stuck.
        Assert.InRange(r.Duration(), 0.1, 1.0);
        Assert.Contains("is queued to this thread's TaskScheduler (ConcurrentExclusiveSchedulerPair.ConcurrentExclusiveTaskScheduler, one task at a time) and cannot run", r.GetProperty("message").GetString());
        Assert.Contains("result: gave up", _runs.Of("exclusive").Result.Stdout);
    }

    [Fact]
    public void The_patterns_done_right_with_the_helpers_or_by_hand_get_no_report()
    {
        var (result, reports) = _runs.Of("healthy");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("scenario healthy done", result.Stdout);
        Assert.True(reports.Count == 0, "expected no report:\n" + Reports.Describe(reports));
    }
}
