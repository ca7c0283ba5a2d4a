using AsyncLens.Testing;
using Xunit;

[assembly: DetectAsyncLeaks]
[assembly: AssemblyFixture(typeof(AsyncLeakRunCheck))]

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
        _ = Waiter.AwaitReplyAsync(reply.Task); // @v3.parked.created
    }

    [Fact]
    public void Leaks_a_fire_and_forget_that_throws()
    {
        _ = Waiter.ChargeAsync(); // @v3.throw.created
    }

    [Fact]
    public void Leaks_a_running_timer()
    {
        // Held, as a service holds its timer: an unreachable one stops when the GC finalizes it.
        Waiter.Timers.Add(new Timer(Waiter.Tick, null, 10, 10));
    }

    // A package's own background work (the multiplexer's read loops and heartbeat timer) started from this test's flow
    // by the first use of a shared connection: the package's, not a leak of this test.
    [Fact]
    public async Task Shares_a_redis_connection_made_on_first_use()
    {
        var db = Redis.Value.GetDatabase();
        await db.StringSetAsync("leaktests", "v");
        Assert.Equal("v", (string?)await db.StringGetAsync("leaktests"));
    }

    private static readonly Lazy<StackExchange.Redis.ConnectionMultiplexer> Redis =
        new(() => StackExchange.Redis.ConnectionMultiplexer.Connect(Environment.GetEnvironmentVariable("DB_REDIS") ?? "127.0.0.1:6379"));

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
