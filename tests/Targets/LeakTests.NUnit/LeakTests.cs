using AsyncLens.Testing;
using NUnit.Framework;

[assembly: DetectAsyncLeaks]
[assembly: LevelOfParallelism(8)]

namespace Samples;

[Parallelizable(ParallelScope.All)]
public sealed class Orders
{
    [Test]
    public async Task Healthy_awaits_everything_it_starts()
    {
        using var timer = new Timer(_ => { }, null, 50, 50);
        await Task.WhenAll(Task.Delay(5), Task.Run(() => Thread.Sleep(5)));
    }

    [Test]
    public void Leaks_a_task_parked_on_a_completion_source()
    {
        var reply = new TaskCompletionSource<int>();
        _ = Waiter.AwaitReplyAsync(reply.Task); // @nunit.parked.created
    }

    [Test]
    public void Leaks_a_fire_and_forget_that_throws()
    {
        _ = Waiter.ChargeAsync(); // @nunit.throw.created
    }

    [Test]
    public void Leaks_a_running_timer()
    {
        // Held, as a service holds its timer: an unreachable one stops when the GC finalizes it.
        Waiter.Timers.Add(new Timer(Waiter.Tick, null, 10, 10));
    }

    [Test]
    public void Starts_work_with_the_flow_suppressed()
    {
        Waiter.StartDetached(new TaskCompletionSource<int>().Task);
    }

    [Test]
    [AllowPendingTasks("the poller lives for the whole run")]
    public void Starts_a_poller_on_purpose()
    {
        _ = Waiter.PollAsync();
    }
}
