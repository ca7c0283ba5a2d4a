using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Leaks;

public sealed class XunitV3Run() : AdapterRun("LeakTests.XunitV3", Servers.DbWorkerEnvironment());

public sealed class XunitV3Net11Run() : AdapterRun("LeakTests.XunitV3", Servers.DbWorkerEnvironment(), TargetRuntime.Net11);

public sealed class XunitRun() : AdapterRun("LeakTests.Xunit");

public sealed class NUnitRun() : AdapterRun("LeakTests.NUnit");

public sealed class MSTestRun() : AdapterRun("LeakTests.MSTest");

/// <summary>[assembly: DetectAsyncLeaks] in an xunit v3 project run by `dotnet test`.</summary>
public sealed class XunitV3AdapterTests(XunitV3Run run) : AdapterFacts(run, "v3", "AsyncLens.Testing.AsyncLeakException : ", "Samples.Orders.", 7), IClassFixture<XunitV3Run>
{
    [Fact]
    public void A_package_s_background_work_started_by_a_test_is_not_its_leak() =>
        Assert.Equal(("Passed", (string?)null), run.Outcomes["Samples.Orders.Shares_a_redis_connection_made_on_first_use"]);

    // The assembly fixture AsyncLeakRunCheck fails the assembly's cleanup; xunit prints it among its run messages.
    [Fact]
    public void The_run_end_check_fails_the_assembly_cleanup_once_with_the_work_no_test_claimed()
    {
        var lines = run.RunOutput.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"^\[xUnit\.net [^\]]*\] {0,7}", ""));
        var text = string.Join("\n", lines);
        Assert.Contains("Assembly fixture type 'AsyncLens.Testing.AsyncLeakRunCheck' threw in Dispose\n---- AsyncLens.Testing.AsyncLeakException : " + RunEnd.Expected(run) + "\n", text, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "work no test claimed"));
        Assert.Equal("Passed", run.Outcomes["Samples.Orders.Starts_work_with_the_flow_suppressed"].Outcome);
    }
}

/// <summary>The run-end check's text for the samples' one piece of work started with the flow suppressed.</summary>
internal static class RunEnd
{
    public static string Expected(AdapterRun run) =>
        $"""
        AsyncLens: work no test claimed (started with the ExecutionContext flow suppressed, or outside any test): 1 pending task

        pending task: Waiter.AwaitDetachedAsync(Task<int>) parked at {run.SharedAt("leaks.detached")}
          created at {run.SharedAt("leaks.detached.created")} in Waiter.StartDetached(Task<int>)
          async stack (root first):
            Waiter.AwaitDetachedAsync(Task<int>) at {run.SharedAt("leaks.detached")}
            awaiting TaskCompletionSource
        """.ReplaceLineEndings("\n");
}

/// <summary>
/// The xunit v3 sample on .NET 11: there the runtime reads its async-debugging flag once, with the first async method,
/// and a registry switched on by the first test (after xunit's own async work) got no box until TaskRegistry
/// resynchronized it: the parked task passed.
/// </summary>
public sealed class XunitV3Net11AdapterTests(XunitV3Net11Run run) : AdapterFacts(run, "v3", "AsyncLens.Testing.AsyncLeakException : ", "Samples.Orders.", 7), IClassFixture<XunitV3Net11Run>;

/// <summary>[assembly: DetectAsyncLeaks] and the run-end check (AsyncLeakTestFramework) in an xunit v2 project run by `dotnet test`.</summary>
public sealed class XunitAdapterTests(XunitRun run) : AdapterFacts(run, "v2", "AsyncLens.Testing.AsyncLeakException : ", "Samples.Orders.", 7), IClassFixture<XunitRun>
{
    // xunit v2 has no assembly fixture: the sample's [assembly: TestFramework] runs xunit's own, whose assembly runner
    // fails the assembly's cleanup once the tests are done; xunit prints it among its run messages, `dotnet test` exits 1.
    [Fact]
    public void The_run_end_check_fails_the_assembly_cleanup_once_with_the_work_no_test_claimed()
    {
        var lines = run.RunOutput.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"^\[xUnit\.net [^\]]*\] {0,7}", ""));
        var text = string.Join("\n", lines);
        // The header is the run's error (the TRX's RunInfos), which `dotnet test` prints on stderr; the message is in the run output.
        Assert.Matches(@"\[xUnit\.net [^\]]*\] +\[Test Assembly Cleanup Failure \(LeakTests\.Xunit\.dll\)\] AsyncLens\.Testing\.AsyncLeakException\n", run.Result.Stderr.ReplaceLineEndings("\n"));
        Assert.NotEqual(0, run.Result.ExitCode);
        Assert.Contains("AsyncLens.Testing.AsyncLeakException : " + RunEnd.Expected(run) + "\n", text, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "work no test claimed"));
        Assert.Equal("Passed", run.Outcomes["Samples.Orders.Starts_work_with_the_flow_suppressed"].Outcome);
    }

    // The attribute on the assembly and on a class: one scope per test, with the class's grace period (10 s), so work
    // ending 300 ms after the test passes (the assembly's 100 ms would fail it, as a second scope would).
    [Fact]
    public void The_class_s_attribute_sets_the_grace_period_of_its_tests_under_the_assembly_s() =>
        Assert.Equal(("Passed", (string?)null), run.Outcomes["Samples.Invoices.Leaves_work_that_ends_within_its_class_s_grace_period"]);
}

/// <summary>[assembly: DetectAsyncLeaks] (an ITestAction) in an NUnit project run by `dotnet test`: 200 tests in parallel, 3 of them leaking.</summary>
public sealed class NUnitAdapterTests(NUnitRun run) : AdapterFacts(run, "nunit", "", "", 201), IClassFixture<NUnitRun>
{
    // The sample's [SetUpFixture] outside any namespace calls DetectAsyncLeaksAttribute.VerifyRun() in its teardown: the
    // adapter prints that failure on stderr (and exits 1), where a failure of the assembly suite itself is dropped
    // (nunit3-vs-adapter#1290). The attribute's own check after the assembly finds nothing more: reported once.
    [Fact]
    public void The_run_end_check_fails_the_setup_fixture_s_teardown_once_with_the_work_no_test_claimed()
    {
        var stderr = run.Result.Stderr.ReplaceLineEndings("\n");
        // NUnit adds "One or more child tests had errors" between the two when a test of the run failed (three do here).
        Assert.Matches("TearDown failed for test fixture LeakRunEnd\n(One or more child tests had errors\n)?AsyncLens: work no test claimed", stderr);
        Assert.Contains("\n" + RunEnd.Expected(run) + "\nStackTrace:", stderr, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(stderr + run.RunOutput, "work no test claimed"));
        Assert.Equal("Passed", run.Outcomes["Starts_work_with_the_flow_suppressed"].Outcome);
    }
}

/// <summary>[DetectAsyncLeaks] in place of [TestClass] in an MSTest project (methods in parallel) run by `dotnet test`.</summary>
public sealed class MSTestAdapterTests(MSTestRun run) : AdapterFacts(run, "mstest", "", "", 8, ["Leaks_a_task_parked_in_a_plain_test_class"]), IClassFixture<MSTestRun>
{
    // Assembly-wide: DetectAsyncLeaksAttribute.Begin/Verify from the sample's [GlobalTestInitialize]/[GlobalTestCleanup].
    [Fact]
    public void The_global_test_hooks_check_a_test_of_a_class_without_the_attribute()
    {
        Assert.Equal(
            $"""
            TestCleanup method Samples.LeakChecks.Verify threw exception. AsyncLens.Testing.AsyncLeakException: AsyncLens: test Samples.Payments.Leaks_a_task_parked_in_a_plain_test_class left async work behind: 1 pending task (grace period 100 ms)

            pending task: Payments.HoldAsync(Task<int>) parked at {run.At("mstest.global.parked")}
              created at {run.At("mstest.global.created")} in Payments.Leaks_a_task_parked_in_a_plain_test_class()
              async stack (root first):
                Payments.HoldAsync(Task<int>) at {run.At("mstest.global.parked")}
                awaiting TaskCompletionSource.
            """.ReplaceLineEndings("\n"), run.Outcomes["Leaks_a_task_parked_in_a_plain_test_class"].Message?.ReplaceLineEndings("\n"));
        Assert.Equal("Passed", run.Outcomes["Awaits_everything_in_a_plain_test_class"].Outcome);
    }

    // An [AssemblyCleanup] of the sample's writes it: MSTest puts that output on the test that ran last, whichever it was.
    [Fact]
    public void The_run_end_check_reports_the_work_no_test_claimed_once_in_the_assembly_cleanup_output()
    {
        Assert.Equal(RunEnd.Expected(run), Assert.Single(run.TestOutputs, o => o.Contains("work no test claimed", StringComparison.Ordinal)).Trim());
        Assert.Equal("Passed", run.Outcomes["Starts_work_with_the_flow_suppressed"].Outcome);
    }
}

/// <summary>What every adapter's sample project shows: exactly the three leaking tests fail, each with its lines.</summary>
public abstract class AdapterFacts(AdapterRun run, string tag, string prefix, string names, int tests, string[]? alsoFailing = null)
{
    private string At(string marker) => run.At(tag + "." + marker);

    private string? Message(string test) => run.Outcomes[names + test].Message?.ReplaceLineEndings("\n");

    [Fact]
    public void Exactly_the_three_leaking_tests_fail_and_the_rest_pass()
    {
        Assert.Equal(tests, run.Outcomes.Count);
        Assert.Equal(
            new[] { names + "Leaks_a_fire_and_forget_that_throws", names + "Leaks_a_running_timer", names + "Leaks_a_task_parked_on_a_completion_source" }
                .Concat(alsoFailing ?? []).Order(StringComparer.Ordinal),
            run.Failed());
    }

    [Fact]
    public void A_parked_task_names_its_await_its_stack_and_the_test_line_that_started_it()
    {
        Assert.Equal(
            $"""
            {prefix}AsyncLens: test Samples.Orders.Leaks_a_task_parked_on_a_completion_source left async work behind: 1 pending task (grace period 100 ms)

            pending task: Waiter.AwaitReplyAsync(Task<int>) parked at {run.SharedAt("leaks.parked")}
              created at {At("parked.created")} in Orders.Leaks_a_task_parked_on_a_completion_source()
              async stack (root first):
                Waiter.AwaitReplyAsync(Task<int>) at {run.SharedAt("leaks.parked")}
                awaiting TaskCompletionSource
            """.ReplaceLineEndings("\n"), Message("Leaks_a_task_parked_on_a_completion_source"));
    }

    [Fact]
    public void A_fire_and_forget_that_throws_names_the_exception_its_line_and_where_it_was_started()
    {
        Assert.Equal(
            $"""
            {prefix}AsyncLens: test Samples.Orders.Leaks_a_fire_and_forget_that_throws left async work behind: 1 unobserved exception (grace period 100 ms)

            unobserved exception: System.InvalidOperationException: card declined
              thrown by Waiter.ChargeAsync(); nothing awaited it or read its exception
              created at {At("throw.created")} in Orders.Leaks_a_fire_and_forget_that_throws()
              stack:
                at Samples.Waiter.ChargeAsync() in {run.Shared["leaks.throw"].File}:line {run.Shared["leaks.throw"].Line}
            """.ReplaceLineEndings("\n"), Message("Leaks_a_fire_and_forget_that_throws"));
    }

    [Fact]
    public void A_timer_left_running_names_its_callback()
    {
        Assert.Equal(
            $"""
            {prefix}AsyncLens: test Samples.Orders.Leaks_a_running_timer left async work behind: 1 timer (grace period 100 ms)

            timer: Waiter.Tick(object) at {run.SharedAt("leaks.tick")}, fires every 10 ms, never disposed
            """.ReplaceLineEndings("\n"), Message("Leaks_a_running_timer"));
    }

    [Fact]
    public void A_test_allowed_to_leave_a_poller_passes()
    {
        Assert.Equal("Passed", run.Outcomes[names + "Starts_a_poller_on_purpose"].Outcome);
        Assert.Equal("Passed", run.Outcomes[names + "Healthy_awaits_everything_it_starts"].Outcome);
    }
}
