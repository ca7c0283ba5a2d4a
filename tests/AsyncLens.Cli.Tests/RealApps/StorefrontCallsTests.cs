using Storefront;
using Xunit;

namespace AsyncLens.Cli.Tests.RealApps;

/// <summary>
/// Storefront's own count of its calls (tests/RealApps/Storefront/Calls.cs, compiled in here), the ground truth of
/// <see cref="StorefrontProfileTests"/>: a call is counted as waited when it suspends, which is when the profiler's
/// runtime events see it (its box is made), and not when its context merely leaves a thread.
/// </summary>
public sealed class StorefrontCallsTests
{
    [Fact]
    public void A_call_that_parks_waited_and_so_did_its_caller_that_awaited_it() =>
        Assert.Equal("waited 1 Child\nwaited 1 Parent\nedge 1 Parent -> Child\n", Counted(ParksAsync));

    [Fact]
    public void A_call_whose_context_left_another_thread_but_that_never_parked_did_not_wait() =>
        // A callee's continuation on a pool thread in the call's context, done while the call still runs its first step
        // (CI: a Tracing.SendAsync counted waited that found HttpClient's task completed and ended without parking).
        Assert.Equal("synchronous 1 Counted\n", Counted(ContextLeftElsewhereAsync));

    [Fact]
    public void A_call_that_ran_another_flow_s_continuation_inline_but_never_parked_did_not_wait() =>
        Assert.Equal("waited 1 Other\nsynchronous 1 Counted\n", Counted(InlineContinuationAsync));

    // Run on a pool thread: no test framework's SynchronizationContext to post the continuations to.
    private static string Counted(Func<Task> scenario)
    {
        Calls.Reset();
        Task.Run(scenario).Wait();
        return Calls.Report();
    }

    // The child parks on a gate opened only once the parent has parked too (ParentAsync returned its task): with a
    // Task.Yield the child's continuation could run on another pool thread and complete it before the parent reached its
    // await (CI, once: "synchronous 1 Parent"), and then the parent rightly did not wait.
    private static async Task ParksAsync()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var parent = ParentAsync(gate.Task);
        gate.SetResult();
        await parent;
    }

    private static async Task ParentAsync(Task gate)
    {
        using var call = Calls.Enter("Parent");
        await ChildAsync(gate);
    }

    private static async Task ChildAsync(Task gate)
    {
        using var call = Calls.Enter("Child");
        await gate;
    }

    private static async Task ContextLeftElsewhereAsync()
    {
        using var call = Calls.Enter("Counted");
        var done = new TaskCompletionSource();
        var context = ExecutionContext.Capture()!;
        var elsewhere = new Thread(() => ExecutionContext.Run(context, _ => done.SetResult(), null));
        elsewhere.Start();
        elsewhere.Join();
        await done.Task;
    }

    private static async Task InlineContinuationAsync()
    {
        var gate = new TaskCompletionSource();
        var other = OtherAsync(gate.Task);
        await CountedAsync(gate);
        await other;
    }

    private static async Task OtherAsync(Task gate)
    {
        using var call = Calls.Enter("Other");
        await gate;
    }

    // The gate's continuation (the other call's) runs inline in this call's first step, in that call's context.
    private static async Task CountedAsync(TaskCompletionSource gate)
    {
        using var call = Calls.Enter("Counted");
        gate.SetResult();
        await Task.CompletedTask;
    }
}
