using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Leaks;

/// <summary>AsyncLeakScope in this process: what a scope finds of the work started in it, and only of that work.</summary>
public sealed class AsyncLeakScopeTests
{
    private static readonly SourceMarkers Markers = new(Repo.Source("tests", "AsyncLens.Tests", "Leaks"));

    private static string At(string tag) => $"{Markers[tag].File}:{Markers[tag].Line}";

    [Fact]
    public async Task A_task_left_parked_fails_with_its_line_its_async_stack_and_where_it_was_created()
    {
        var signal = new TaskCompletionSource();
        AsyncLeakException? thrown;
        using (var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.FromMilliseconds(20) }))
        {
            LeakCode.StartServing(signal.Task);
            thrown = await Record(scope);
        }
        signal.SetResult();
        Assert.NotNull(thrown);
        Assert.Equal(
            $"""
            AsyncLens: this test left async work behind: 1 pending task (grace period 20 ms)

            pending task: LeakCode.WaitForSignalAsync(Task) parked at {At("leak.parked")}
              created at {At("leak.serve.created")} in LeakCode.StartServing(Task)
              async stack (root first):
                LeakCode.ServeAsync(Task) at {At("leak.serve")}
                LeakCode.WaitForSignalAsync(Task) at {At("leak.parked")}
                awaiting TaskCompletionSource
            """.ReplaceLineEndings("\n"), thrown.Message);
        Assert.Equal(AsyncLeakKind.PendingTask, Assert.Single(thrown.Leaks).Kind);
    }

    [Fact]
    public async Task Work_that_ends_within_the_grace_period_passes()
    {
        // A grace period far above the work's 30 ms: the check returns as soon as the work is done, and a loaded machine
        // (load 24 on 2 cores) delays the work past the default 100 ms.
        using var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.FromSeconds(10) });
        _ = Task.Delay(30);
        _ = Task.Run(() => Thread.Sleep(20));
        var signal = new TaskCompletionSource();
        LeakCode.StartServing(signal.Task);
        _ = Task.Delay(10).ContinueWith(_ => signal.SetResult(), TaskScheduler.Default);
        await scope.VerifyAsync();
    }

    [Fact]
    public async Task A_timer_never_disposed_fails_and_a_disposed_one_passes()
    {
        AsyncLeakException? thrown;
        Timer leaked;
        using (var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero }))
        {
            leaked = new Timer(LeakCode.Tick, null, 60_000, 60_000);
            using (new Timer(LeakCode.Tick, null, 60_000, 60_000))
            {
            }
            thrown = await Record(scope);
        }
        await leaked.DisposeAsync();
        Assert.NotNull(thrown);
        Assert.Equal(
            $"""
            AsyncLens: this test left async work behind: 1 timer (grace period 0 ms)

            timer: LeakCode.Tick(object) at {At("leak.tick")}, fires every 60000 ms, never disposed
            """.ReplaceLineEndings("\n"), thrown.Message);
    }

    [Fact]
    public async Task A_fire_and_forget_that_throws_fails_with_the_exception_and_where_it_was_started()
    {
        AsyncLeakException? thrown;
        using (var scope = AsyncLeakScope.Begin())
        {
            LeakCode.StartCharging();
            thrown = await Record(scope);
        }
        Assert.NotNull(thrown);
        var lines = thrown.Message.Split('\n');
        Assert.Equal("AsyncLens: this test left async work behind: 1 unobserved exception (grace period 100 ms)", lines[0]);
        Assert.Equal("unobserved exception: System.InvalidOperationException: card declined", lines[2]);
        Assert.Equal("  thrown by LeakCode.ChargeAsync(); nothing awaited it or read its exception", lines[3]);
        Assert.Equal($"  created at {At("leak.charge.created")} in LeakCode.StartCharging()", lines[4]);
        Assert.Equal("  stack:", lines[5]);
        Assert.Equal($"at AsyncLens.Tests.Leaks.LeakCode.ChargeAsync() in {Markers["leak.throw"].File}:line {Markers["leak.throw"].Line}", lines[6].Trim());
    }

    [Fact]
    public async Task Each_scope_sees_only_the_work_started_in_it()
    {
        var signal = new TaskCompletionSource();
        var leaking = Task.Run(async () =>
        {
            using var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero });
            LeakCode.StartServing(signal.Task);
            return await scope.FindAsync();
        });
        var clean = Task.Run(async () =>
        {
            using var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero });
            await Task.Delay(1);
            await leaking;
            return await scope.FindAsync();
        });
        var (leaks, none) = (await leaking, await clean);
        signal.SetResult();
        Assert.Equal("LeakCode.WaitForSignalAsync(Task)", Assert.Single(leaks).Method);
        Assert.Empty(none);
    }

    // A test using a scope of its own inside an adapter's ([assembly: DetectAsyncLeaks] on this suite): when its scope
    // ends, the rest of the test is the adapter's scope's again, not no scope's.
    [Fact]
    public async Task A_scope_begun_inside_another_gives_the_flow_back_to_it_when_it_ends()
    {
        var signal = new TaskCompletionSource();
        using var outer = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero });
        using (AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero }))
        {
        }
        Assert.Same(outer, AsyncLeakScope.Current);
        LeakCode.StartServing(signal.Task);
        var leaks = await outer.FindAsync();
        signal.SetResult();
        Assert.Equal("LeakCode.WaitForSignalAsync(Task)", Assert.Single(leaks).Method);
    }

    [Fact]
    public async Task Work_started_with_the_flow_suppressed_belongs_to_no_scope_and_is_reported_at_the_end_of_the_run()
    {
        var signal = new TaskCompletionSource();
        IReadOnlyList<AsyncLeak> leaks, unclaimed;
        using (var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero }))
        {
            Task started;
            using (ExecutionContext.SuppressFlow())
                started = Task.Run(() => LeakCode.StartServing(signal.Task));
            await started;
            leaks = await scope.FindAsync();
            unclaimed = AsyncLeakRun.FindUnclaimed();
        }
        signal.SetResult();
        Assert.Empty(leaks);
        var mine = Assert.Single(unclaimed, l => l.Method == "LeakCode.WaitForSignalAsync(Task)");
        Assert.Equal(Markers["leak.parked"].Line, mine.At?.Line);
        Assert.Equal(Markers["leak.serve.created"].Line, mine.CreatedAt?.Line);
        Assert.StartsWith("AsyncLens: work no test claimed (started with the ExecutionContext flow suppressed, or outside any test): ", AsyncLeakRun.Describe(unclaimed), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ignored_methods_and_allowed_pending_work_pass_but_an_exception_still_fails()
    {
        using var stop = new CancellationTokenSource();
        using (var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero, IgnoreMethods = ["LeakCode.PollAsync"] }))
        {
            _ = LeakCode.PollAsync(stop.Token);
            await scope.VerifyAsync();
        }
        using (var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { GracePeriod = TimeSpan.Zero, Ignore = l => l.Method.StartsWith("LeakCode.", StringComparison.Ordinal) }))
        {
            _ = LeakCode.PollAsync(stop.Token);
            await scope.VerifyAsync();
        }
        AsyncLeakException? thrown;
        using (var scope = AsyncLeakScope.Begin(new AsyncLeakOptions { AllowPendingReason = "the poller runs for the whole run" }))
        {
            _ = LeakCode.PollAsync(stop.Token);
            LeakCode.StartCharging();
            thrown = await Record(scope);
        }
        stop.Cancel();
        Assert.Equal(AsyncLeakKind.UnobservedException, Assert.Single(thrown!.Leaks).Kind);
    }

    private static async Task<AsyncLeakException?> Record(AsyncLeakScope scope)
    {
        try
        {
            await scope.VerifyAsync();
            return null;
        }
        catch (AsyncLeakException ex)
        {
            return ex;
        }
    }
}
