using AsyncLens.Testing;
using Microsoft.VisualStudio.TestTools.UnitTesting;

[assembly: Parallelize(Scope = ExecutionScope.MethodLevel)]

namespace Samples;

[DetectAsyncLeaks]
public sealed class Orders
{
    [TestMethod]
    public async Task Healthy_awaits_everything_it_starts()
    {
        using var timer = new Timer(_ => { }, null, 50, 50);
        await Task.WhenAll(Task.Delay(5), Task.Run(() => Thread.Sleep(5)));
    }

    [TestMethod]
    public void Leaks_a_task_parked_on_a_completion_source()
    {
        var reply = new TaskCompletionSource<int>();
        _ = Waiter.AwaitReplyAsync(reply.Task); // @mstest.parked.created
    }

    [TestMethod]
    public void Leaks_a_fire_and_forget_that_throws()
    {
        _ = Waiter.ChargeAsync(); // @mstest.throw.created
    }

    [TestMethod]
    public void Leaks_a_running_timer()
    {
        // Held, as a service holds its timer: an unreachable one stops when the GC finalizes it.
        Waiter.Timers.Add(new Timer(Waiter.Tick, null, 10, 10));
    }

    [TestMethod]
    public void Starts_work_with_the_flow_suppressed()
    {
        Waiter.StartDetached(new TaskCompletionSource<int>().Task);
    }

    [TestMethod]
    [AllowPendingTasks("the poller lives for the whole run")]
    public void Starts_a_poller_on_purpose()
    {
        _ = Waiter.PollAsync();
    }
}

// Assembly-wide: every test of the assembly, including those of classes without [DetectAsyncLeaks].
[TestClass]
public sealed class LeakChecks
{
    [GlobalTestInitialize]
    public static void Begin(TestContext context) => DetectAsyncLeaksAttribute.Begin(context);

    [GlobalTestCleanup]
    public static void Verify(TestContext context) => DetectAsyncLeaksAttribute.Verify(context);
}

[TestClass]
public sealed class Payments
{
    [TestMethod]
    public void Leaks_a_task_parked_in_a_plain_test_class()
    {
        var reply = new TaskCompletionSource<int>();
        _ = HoldAsync(reply.Task); // @mstest.global.created
    }

    private static async Task<int> HoldAsync(Task<int> reply)
    {
        return await reply; // @mstest.global.parked
    }

    [TestMethod]
    public async Task Awaits_everything_in_a_plain_test_class()
    {
        await Task.WhenAll(Task.Delay(5), Task.Run(() => Thread.Sleep(5)));
    }
}

// The run-end check: what no test claimed, once. MSTest shows an assembly cleanup's output (and its failure, had it
// thrown, as AsyncLeakRun.Verify() does) on the test that ran last: written as a message here, so no test's outcome changes.
[TestClass]
public sealed class RunEnd
{
    [AssemblyCleanup]
    public static void ReportUnclaimed()
    {
        if (AsyncLeakRun.FindUnclaimed() is { Count: > 0 } unclaimed)
            Console.WriteLine(AsyncLeakRun.Describe(unclaimed));
    }
}
