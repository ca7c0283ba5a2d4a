using Xunit;

namespace AsyncLens.Tests.Leaks;

public sealed class XunitV3Run() : AdapterRun("LeakTests.XunitV3");

/// <summary>[assembly: DetectAsyncLeaks] in an xunit v3 project run by `dotnet test`: exactly the leaking tests fail, each with its lines.</summary>
public sealed class XunitV3AdapterTests(XunitV3Run run) : IClassFixture<XunitV3Run>
{
    [Fact]
    public void Exactly_the_three_leaking_tests_fail()
    {
        Assert.Equal(5, run.Outcomes.Count);
        Assert.Equal(
            ["Samples.Orders.Leaks_a_fire_and_forget_that_throws", "Samples.Orders.Leaks_a_running_timer", "Samples.Orders.Leaks_a_task_parked_on_a_completion_source"],
            run.Failed());
    }

    [Fact]
    public void A_parked_task_names_its_await_its_stack_and_the_test_line_that_started_it()
    {
        Assert.Equal(
            $"""
            AsyncLens.Testing.AsyncLeakException : AsyncLens: test Samples.Orders.Leaks_a_task_parked_on_a_completion_source left async work behind: 1 pending task (grace period 100 ms)

            pending task: Waiter.AwaitReplyAsync(Task<int>) parked at {run.At("v3.parked")}
              created at {run.At("v3.parked.created")} in Orders.Leaks_a_task_parked_on_a_completion_source()
              async stack (root first):
                Waiter.AwaitReplyAsync(Task<int>) at {run.At("v3.parked")}
                awaiting TaskCompletionSource
            """.ReplaceLineEndings("\n"), run.Outcomes["Samples.Orders.Leaks_a_task_parked_on_a_completion_source"].Message?.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_fire_and_forget_that_throws_names_the_exception_its_line_and_where_it_was_started()
    {
        Assert.Equal(
            $"""
            AsyncLens.Testing.AsyncLeakException : AsyncLens: test Samples.Orders.Leaks_a_fire_and_forget_that_throws left async work behind: 1 unobserved exception (grace period 100 ms)

            unobserved exception: System.InvalidOperationException: card declined
              thrown by Waiter.ChargeAsync(); nothing awaited it or read its exception
              created at {run.At("v3.throw.created")} in Orders.Leaks_a_fire_and_forget_that_throws()
              stack:
                at Samples.Waiter.ChargeAsync() in {run.Markers["v3.throw"].File}:line {run.Markers["v3.throw"].Line}
            """.ReplaceLineEndings("\n"), run.Outcomes["Samples.Orders.Leaks_a_fire_and_forget_that_throws"].Message?.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_timer_left_running_names_its_callback()
    {
        Assert.Equal(
            $"""
            AsyncLens.Testing.AsyncLeakException : AsyncLens: test Samples.Orders.Leaks_a_running_timer left async work behind: 1 timer (grace period 100 ms)

            timer: Waiter.Tick(object) at {run.At("v3.tick")}, fires every 10 ms, never disposed
            """.ReplaceLineEndings("\n"), run.Outcomes["Samples.Orders.Leaks_a_running_timer"].Message?.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_test_allowed_to_leave_a_poller_passes()
    {
        Assert.Equal("Passed", run.Outcomes["Samples.Orders.Starts_a_poller_on_purpose"].Outcome);
        Assert.Equal("Passed", run.Outcomes["Samples.Orders.Healthy_awaits_everything_it_starts"].Outcome);
    }
}
