using AsyncLens.Testing;
using Xunit;

[assembly: DetectAsyncLeaks]
[assembly: TestFramework("AsyncLens.Testing.AsyncLeakTestFramework", "AsyncLens.Testing.Xunit")]

namespace Samples;

public sealed class Orders
{
    [Fact]
    public async Task Healthy_awaits_everything_it_starts()
    {
        using var timer = new Timer(_ => { }, null, 50, 50);
        await Task.WhenAll(Task.Delay(5), Task.Run(() => Thread.Sleep(5)));
    }

    [Fact]
    public void Leaks_a_task_parked_on_a_completion_source()
    {
        var reply = new TaskCompletionSource<int>();
        _ = Waiter.AwaitReplyAsync(reply.Task); // @v2.parked.created
    }

    [Fact]
    public void Leaks_a_fire_and_forget_that_throws()
    {
        _ = Waiter.ChargeAsync(); // @v2.throw.created
    }

    [Fact]
    public void Leaks_a_running_timer()
    {
        // Held, as a service holds its timer: an unreachable one stops when the GC finalizes it.
        Waiter.Timers.Add(new Timer(Waiter.Tick, null, 10, 10));
    }

    [Fact]
    public void Starts_work_with_the_flow_suppressed()
    {
        Waiter.StartDetached(new TaskCompletionSource<int>().Task);
    }

    [Fact]
    [AllowPendingTasks("the poller lives for the whole run")]
    public void Starts_a_poller_on_purpose()
    {
        _ = Waiter.PollAsync();
    }
}

// The class's attribute, closer than the assembly's, sets the grace period of its tests (one scope per test, not two).
[DetectAsyncLeaks(GracePeriodMs = 10_000)]
public sealed class Invoices
{
    [Fact]
    public void Leaves_work_that_ends_within_its_class_s_grace_period()
    {
        _ = Task.Run(async () => await Task.Delay(300));
    }
}
