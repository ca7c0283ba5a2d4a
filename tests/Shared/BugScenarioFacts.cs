using System.Text.Json;
using Xunit;

namespace AsyncLens.Testing;

/// <summary>One run of tests/Targets/Bugs (all scenarios) under some switch, with its JSON reports.</summary>
public abstract class ScenarioRun
{
    /// <param name="start">Runs the program; returns its result and the text its reports went to.</param>
    private protected ScenarioRun(Func<(ProcessResult Result, string ReportText)> start)
    {
        (Result, var reportText) = start();
        All = Reports.Parse(reportText);
    }

    internal ProcessResult Result { get; }

    internal List<JsonElement> All { get; }
}

/// <summary>
/// The slow and hung steps debug mode must report for the seeded bugs of tests/Targets/Bugs (scenarios slow, slow-call,
/// first-step, never-awaits, busy-loop, hung), whichever switch turned it on and whichever source its steps come from:
/// method, and exact file:line of the bug, of where the step resumed and stopped, of the creation site and of the stack.
/// </summary>
public abstract class StepScenarioFacts
{
    private protected static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Bugs", "Scenarios"));
    private protected StepScenarioFacts(ScenarioRun run) => Scenario = run;

    /// <summary>
    /// The reason, where this source of steps sees the first step of a method of the user's run by a runtime-async frame
    /// of the BCL's (on .NET 11, a <c>Parallel.ForEachAsync</c> body's, scenario parallel-first-step; on .NET 10 the frame
    /// is a state machine) in most runs but not all: the report is then neither expected nor forbidden among every seeded
    /// bug's, and its own fact is skipped with this reason.
    /// </summary>
    public const string RuntimeAsyncFirstStepMissedSometimes =
        "issue 14: on .NET 11's TPL path a Parallel.ForEachAsync body's first step was missed in 1 of 4 runs of this leg "
        + "(a fresh-clone suite on a quiet machine, RunCommandNet11Tests). The scenario's race fixed on 2026-12-05; open: a "
        + "step's waits read after its end, and a step's schedstat waits beyond what its wall time leaves: 1-2 of 75 runs "
        + "of Bugs all at load 17-28 (bench/first-step-misses.sh, docs/dotnet11.md); on the async events alone, missed in 1 of 4 "
        + "fresh-clone suites on a quiet machine (2026-12-06; 11 of 11 runs of the class alone right): a body whose first step "
        + "runs in the worker's own first step has no parent context to be found from (docs/async-events.md)";

    private protected virtual bool FirstStepsUnderRuntimeAsyncMissedSometimes => false;

    private protected ScenarioRun Scenario { get; }

    private protected static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    /// <summary>The reports of the step scenarios ("kind method"), in ordinal order.</summary>
    private protected static readonly string[] StepReports =
    [
        "hung-step HungStep.RebuildAsync()",
        "slow-step BusyLoop.ChecksumAsync(byte[])",
        "slow-step FirstStep.LoadProfileAsync(int)",
        "slow-step HungStep.RebuildAsync()",
        "slow-step NeverAwaits.HandleAsync(byte[])",
        "slow-step SlowCall.ResizeAsync(byte[])",
        "slow-step SlowStep.HandleAsync(int)",
    ];

    /// <summary>The report of scenario parallel-first-step ("kind method").</summary>
    private protected const string ParallelBodyReport = "slow-step ParallelBody.ImportAsync(int, CancellationToken)";

    private protected JsonElement Single(string kind, string method)
    {
        var matches = Scenario.All.Where(r => r.Kind() == kind && r.Method() == method).ToList();
        Assert.True(matches.Count == 1, $"expected one {kind} for {method}, got {matches.Count}:\n{Reports.Describe(Scenario.All)}\n{Scenario.Result}");
        return matches[0];
    }

    // A first step's report: the time at <scenario>.location, from the method's start (.started) to its first await
    // (.stopped), created where <paramref name="creator"/> called it (.created).
    private protected static void FromItsStart(JsonElement r, string scenario, string creator)
    {
        Assert.True(r.GetProperty("firstStep").GetBoolean());
        Assert.Equal(At($"{scenario}.location"), r.At("location"));
        Assert.Equal(At($"{scenario}.started"), r.At("resumedAt"));
        Assert.Equal(At($"{scenario}.stopped"), r.At("stoppedAt"));
        Assert.Equal(At($"{scenario}.created"), r.At("createdAt"));
        Assert.Equal(creator, r.GetProperty("createdAt").GetProperty("method").GetString());
    }

    [Fact]
    public void Slow_step_says_where_it_resumed_and_stopped_and_what_blocked()
    {
        var r = Single("slow-step", "SlowStep.HandleAsync(int)");
        Assert.Equal(At("slow.location"), r.At("location"));
        Assert.Equal(At("slow.resumed"), r.At("resumedAt"));
        Assert.Equal(At("slow.stopped"), r.At("stoppedAt"));
        Assert.Equal(At("slow.created"), r.At("createdAt"));
        Assert.Equal("SlowStep.RunAsync()", r.GetProperty("createdAt").GetProperty("method").GetString());
        Assert.InRange(r.Duration(), 0.29, 2.0);
        Assert.Equal(
            [$"SlowStep.RunAsync() at {At("slow.created")}", $"SlowStep.HandleAsync(int) at {At("slow.resumed")}"],
            r.Stack().TakeLast(2));
        Assert.Contains("await Task.Delay", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Slow_step_spent_in_a_called_method_points_at_the_call()
    {
        var r = Single("slow-step", "SlowCall.ResizeAsync(byte[])");
        Assert.Equal(At("slowcall.location"), r.At("location"));
        Assert.Equal(At("slowcall.resumed"), r.At("resumedAt"));
        Assert.Equal(At("slowcall.stopped"), r.At("stoppedAt"));
        Assert.Equal(At("slowcall.created"), r.At("createdAt"));
        Assert.Contains("Task.Run", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Slow_first_step_of_an_async_method_is_reported_as_that_method_from_its_start()
    {
        var r = Single("slow-step", "FirstStep.LoadProfileAsync(int)");
        FromItsStart(r, "firststep", "FirstStep.RunAsync()");
        // A 250 ms sleep. On the async events alone the machine's share is estimated from thread samples: 0.234-0.239 s
        // was read there with the machine busy or compiling elsewhere (docs/async-events.md, "What is missing").
        Assert.InRange(r.Duration(), 0.2, 2.0);
        Assert.Equal(
            [$"FirstStep.RunAsync() at {At("firststep.created")}", $"FirstStep.LoadProfileAsync(int) at {At("firststep.location")}"],
            r.Stack().TakeLast(2));
        Assert.Contains("await Task.Delay", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Slow_step_that_spins_in_a_loop_of_its_own_points_at_the_loop()
    {
        var r = Single("slow-step", "BusyLoop.ChecksumAsync(byte[])");
        Assert.Equal(At("busyloop.location"), r.At("location"));
        Assert.Equal(At("busyloop.resumed"), r.At("resumedAt"));
        Assert.Equal(At("busyloop.stopped"), r.At("stoppedAt"));
        Assert.Equal(At("busyloop.created"), r.At("createdAt"));
        Assert.StartsWith("this loop runs on the async path", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Async_method_that_never_awaits_is_reported_from_its_start_to_its_end()
    {
        var r = Single("slow-step", "NeverAwaits.HandleAsync(byte[])");
        Assert.True(r.GetProperty("firstStep").GetBoolean());
        Assert.Equal(0, r.GetProperty("taskId").GetInt32()); // it never yielded: no task of its own was made
        Assert.Equal(At("neverawaits.location"), r.At("location"));
        Assert.Equal(At("neverawaits.started"), r.At("resumedAt"));
        Assert.Equal(At("neverawaits.stopped"), r.At("stoppedAt"));
        Assert.Equal(At("neverawaits.created"), r.At("createdAt"));
        // 0.25 s of the thread's CPU, read 0.244-0.249 s on a quiet machine. A first step is located, not measured, and
        // what is taken off as the runtime's and the machine's is estimated: in the suite's own parallel runs 0.14-0.229 s
        // was read (open: docs/debug-mode.md#limits, "First steps"). Here only that it was judged slow.
        Assert.InRange(r.Duration(), 0.1, 2.0);
        Assert.Equal(
            [$"NeverAwaits.RunAsync() at {At("neverawaits.created")}", $"NeverAwaits.HandleAsync(byte[]) at {At("neverawaits.location")}"],
            r.Stack().TakeLast(2));
        Assert.Contains("`NeverAwaits.ComputeThumbnail(byte[])` runs on the async path", r.GetProperty("fix").GetString());
    }

    [Fact]
    public virtual void Slow_first_step_of_a_Parallel_ForEachAsync_body_is_reported_as_the_body_from_its_start()
    {
        var r = Single("slow-step", "ParallelBody.ImportAsync(int, CancellationToken)");
        FromItsStart(r, "parallel", "ParallelBody.RunAsync()");
        Assert.InRange(r.Duration(), 0.2, 2.0);
        Assert.Equal($"ParallelBody.ImportAsync(int, CancellationToken) at {At("parallel.location")}", r.Stack()[^1]);
        Assert.Contains("await Task.Delay", r.GetProperty("fix").GetString());
    }

    [Fact]
    public void Hung_step_is_reported_while_it_runs_and_as_slow_when_it_ends()
    {
        var hung = Single("hung-step", "HungStep.RebuildAsync()");
        Assert.True(hung.GetProperty("ongoing").GetBoolean());
        Assert.InRange(hung.Duration(), 1.0, 1.39);
        Assert.Equal(At("hung.location"), hung.At("location"));
        Assert.Equal(At("hung.resumed"), hung.At("resumedAt"));
        Assert.Equal(At("hung.created"), hung.At("createdAt"));
        Assert.False(hung.TryGetProperty("stoppedAt", out _), "a step still running has not stopped anywhere");

        var ended = Single("slow-step", "HungStep.RebuildAsync()");
        Assert.InRange(ended.Duration(), 1.35, 4.0);
        Assert.Equal(At("hung.stopped"), ended.At("stoppedAt"));
    }
}

/// <summary>
/// The reports debug mode must give for the seeded bugs of tests/Targets/Bugs, whichever switch
/// turned it on: kind, method, and exact file:line of the bug, of the creation site and of the stack.
/// </summary>
public abstract class BugScenarioFacts : StepScenarioFacts
{
    private protected BugScenarioFacts(ScenarioRun run) : base(run)
    {
    }

    [Fact]
    public void The_program_runs_to_its_normal_end()
    {
        Assert.True(Scenario.Result.ExitCode == 0, Scenario.Result.ToString());
        Assert.Contains("scenario collected", Scenario.Result.Stdout);
    }

    [Fact]
    public void Every_seeded_bug_is_reported_once_and_nothing_else()
    {
        string[] expected =
        [
            "blocking-wait BlockingInStep.CheckoutAsync()",
            "blocking-wait BlockingWait.PlaceOrder(int)",
            "blocking-wait Deadlock.WaitForGate(Task)",
            "pending-collected Collected.WaitForReplyAsync(TaskCompletionSource<string>)",
            .. StepReports,
            .. (FirstStepsUnderRuntimeAsyncMissedSometimes ? [] : (string[])[ParallelBodyReport]),
            $"unobserved-exception Unobserved.RunAsync lambda at Unobserved.cs:{s_at.Line("unobserved-run.body")}",
            "unobserved-exception Unobserved.SendAsync(string)",
            "unobserved-exception Unobserved.ValidateAsync(int)",
        ];
        var actual = Scenario.All.Select(r => $"{r.Kind()} {r.Method()}")
            .Where(r => !FirstStepsUnderRuntimeAsyncMissedSometimes || r != ParallelBodyReport)
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual);
    }

    [Fact]
    public void Blocking_wait_on_the_thread_pool_names_the_line_that_waited()
    {
        var r = Single("blocking-wait", "BlockingWait.PlaceOrder(int)");
        Assert.Equal(At("blocking.location"), r.At("location"));
        Assert.Equal(At("blocking.created"), r.At("createdAt"));
        Assert.False(r.GetProperty("ongoing").GetBoolean());
        Assert.InRange(r.Duration(), 0.15, 2.0);
        var target = r.GetProperty("waitingOn");
        Assert.Contains("BlockingWait.PriceAsync(int)", target.GetProperty("description").GetString());
        Assert.Equal(At("blocking.parked"), target.At("parkedAt"));
    }

    [Fact]
    public void Blocking_wait_inside_an_async_step_is_reported_instead_of_a_slow_step()
    {
        var r = Single("blocking-wait", "BlockingInStep.CheckoutAsync()");
        Assert.Equal(At("blockingstep.location"), r.At("location"));
        Assert.Equal(At("blockingstep.created"), r.At("createdAt"));
        // The step resumed from its Task.Yield and waits a line later: its frame is where it waits, not at that await.
        Reports.Same($"BlockingInStep.CheckoutAsync() at {At("blockingstep.location")}", r.Stack()[^1], r);
        Assert.DoesNotContain(Scenario.All, x => x.Kind() == "slow-step" && x.Method() == "BlockingInStep.CheckoutAsync()");
    }

    [Fact]
    public void Thread_blocked_past_the_hung_threshold_is_reported_once_while_blocked()
    {
        var r = Single("blocking-wait", "Deadlock.WaitForGate(Task)");
        Assert.True(r.GetProperty("ongoing").GetBoolean());
        Assert.InRange(r.Duration(), 1.0, 1.49);
        Assert.Equal(At("deadlock.location"), r.At("location"));
        Assert.Equal(At("deadlock.created"), r.At("createdAt"));
    }

    [Fact]
    public void Fire_and_forget_exception_is_reported_with_type_message_and_creation_site()
    {
        var r = Single("unobserved-exception", "Unobserved.SendAsync(string)");
        Assert.Equal(At("unobserved.location"), r.At("location"));
        Assert.Equal(At("unobserved.created"), r.At("createdAt"));
        Assert.Equal("Unobserved.SendWelcome()", r.GetProperty("createdAt").GetProperty("method").GetString());
        var ex = r.GetProperty("exception");
        Assert.Equal("System.InvalidOperationException", ex.GetProperty("type").GetString());
        Assert.Equal("mail server refused ada@example.com", ex.GetProperty("message").GetString());
        Assert.Contains("Unobserved.SendAsync", ex.GetProperty("stackTrace").GetString());
    }

    [Fact]
    public void Exception_thrown_before_the_first_await_is_reported_with_its_caller()
    {
        var r = Single("unobserved-exception", "Unobserved.ValidateAsync(int)");
        Assert.Equal(At("unobserved-sync.location"), r.At("location"));
        Assert.Equal(At("unobserved-sync.created"), r.At("createdAt"));
        Assert.Equal("System.ArgumentOutOfRangeException", r.GetProperty("exception").GetProperty("type").GetString());
    }

    [Fact]
    public void Exception_in_a_Task_Run_lambda_nobody_awaits_is_reported_at_the_Task_Run_line()
    {
        var r = Single("unobserved-exception", $"Unobserved.RunAsync lambda at Unobserved.cs:{s_at.Line("unobserved-run.body")}");
        Assert.Equal(At("unobserved-run.location"), r.At("location"));
        Assert.True(At("unobserved-run.created") == r.At("createdAt"), $"createdAt {r.At("createdAt")}, expected {At("unobserved-run.created")}:\n{r}\n{Scenario.Result}");
        Assert.Equal("System.TimeoutException", r.GetProperty("exception").GetProperty("type").GetString());
    }

    [Fact]
    public void Pending_methods_collected_together_are_one_report_with_their_chain()
    {
        var r = Single("pending-collected", "Collected.WaitForReplyAsync(TaskCompletionSource<string>)");
        Assert.Equal(At("collected.location"), r.At("location"));
        Assert.Equal(At("collected-outer.location"), r.At("createdAt"));
        Assert.Equal(
            [
                $"Collected.OuterAsync(TaskCompletionSource<string>) at {At("collected-outer.location")}",
                $"Collected.WaitForReplyAsync(TaskCompletionSource<string>) at {At("collected.location")}",
            ],
            r.Stack());
    }
}

/// <summary>
/// The seeded bugs on .NET 11 with debug mode on the TPL events (the hook and `asynclens run`): one fact seen in most
/// runs but not all there, skipped with its reason (issue 14); every other fact as on .NET 10.
/// </summary>
public abstract class Net11BugScenarioFacts : BugScenarioFacts
{
    private protected Net11BugScenarioFacts(ScenarioRun run) : base(run)
    {
    }

    private protected override bool FirstStepsUnderRuntimeAsyncMissedSometimes => true;

    [Fact(Skip = RuntimeAsyncFirstStepMissedSometimes)]
    public override void Slow_first_step_of_a_Parallel_ForEachAsync_body_is_reported_as_the_body_from_its_start() =>
        base.Slow_first_step_of_a_Parallel_ForEachAsync_body_is_reported_as_the_body_from_its_start();
}
