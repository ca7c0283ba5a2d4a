using AsyncLens.Agent;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using Xunit;

namespace AsyncLens.Tests.Agent;

/// <summary>
/// The console's history of ended async methods, in process: what debug mode captures as a method ends becomes an entry
/// at the next sweep (not before its task completed), the rings keep the last N whatever ends, and how each ended is
/// read from its task without marking a fault observed (a timeout told by the exception that cancelled it).
/// </summary>
public sealed class TerminatedHistoryTests
{
    [Fact]
    public async Task Two_hundred_thousand_ends_keep_the_last_N_and_count_them_all()
    {
        var history = new TerminatedHistory(100);
        var task = RanToCompletionAsync();
        await task;
        for (var i = 0; i < 200_000; i++)
        {
            history.Capture(task, AsyncState.Unknown, null, DateTime.UtcNow.Ticks);
            if (i % 50_000 == 0)
                history.Drain();
        }
        history.Drain();
        var (tasks, total) = history.Snapshot();
        Assert.Equal(100, tasks.Count);
        Assert.Equal(200_000, total);
        Assert.All(tasks, t => Assert.Equal("ran to completion", t.How));
    }

    [Fact]
    public async Task Past_N_ends_a_sweep_one_in_stride_that_ran_to_completion_is_captured_and_every_fault()
    {
        var history = new TerminatedHistory(100);
        var completed = RanToCompletionAsync();
        await completed;
        var faulted = FaultAsync();
        await faulted.ContinueWith(_ => { }, TaskScheduler.Default);
        var busy = new DateTime(2026, 12, 6, 7, 0, 0, DateTimeKind.Utc).Ticks;
        for (var i = 0; i < 10_000; i++)
            history.Capture(completed, AsyncState.Unknown, null, busy, ranToCompletion: true);
        history.Drain();
        Assert.Equal(100, history.Stride); // 10,000 ends in the sweep's second, 100 kept

        var next = busy + TimeSpan.TicksPerSecond;
        for (var i = 0; i < 5_000; i++)
        {
            history.Capture(completed, AsyncState.Unknown, null, next, ranToCompletion: true);
            if (i % 1_000 == 999)
                history.Capture(faulted, AsyncState.Unknown, null, next, ranToCompletion: false);
        }
        history.Drain();
        var (tasks, total) = history.Snapshot();
        Assert.Equal(15_005, total); // every end counted, captured or not
        Assert.Equal(5, tasks.Count(t => t.How == "faulted"));
        Assert.Equal(50, tasks.Count(t => t.How == "ran to completion" && t.Ended.UtcTicks == next)); // one in 100 of 5,000
        Assert.Equal(100, tasks.Count);
        Assert.Equal(50, history.Stride); // 5,005 ends in the last sweep's second
        _ = faulted.Exception;
    }

    [Fact]
    public async Task A_capture_becomes_an_entry_at_the_first_sweep_after_its_task_completed()
    {
        var history = new TerminatedHistory(10);
        var gate = new TaskCompletionSource();
        var pending = AwaitAsync(gate.Task);
        // Debug mode captures before the task completes (its end event comes first).
        history.Capture(pending, 0, null, DateTime.UtcNow.Ticks);
        history.Drain();
        Assert.Empty(history.Snapshot().Tasks);
        gate.SetResult();
        await pending;
        history.Drain();
        var ended = Assert.Single(history.Snapshot().Tasks);
        Assert.Equal(pending.Id, ended.Id);
        Assert.Equal("ran to completion", ended.How);
        Assert.Equal($"{nameof(TerminatedHistoryTests)}.{nameof(AwaitAsync)}(Task)", ended.Method);
        Assert.Equal(ended.Method, Assert.Single(ended.Stack).Method);
        Assert.Null(ended.Lived); // no creation record: not debug mode's
    }

    [Fact]
    public async Task How_each_ended_is_read_from_its_task_and_a_fault_stays_unobserved()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var tasks = new[]
        {
            RanToCompletionAsync(),
            FaultAsync(),
            TokenAsync(cancelled.Token),
            TimeoutAsync(),
            TrySetCanceledAsync(),
        };
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        var history = new TerminatedHistory(10);
        foreach (var task in tasks)
            history.Capture(task, AsyncState.Unknown, null, DateTime.UtcNow.Ticks);
        history.Drain();
        var ended = history.Snapshot().Tasks.OrderBy(t => Array.FindIndex(tasks, x => x.Id == t.Id)).Select(t => (t.How, t.Exception)).ToArray();
        Assert.Equal(
            [
                ("ran to completion", null),
                ("faulted", "InvalidOperationException: card declined"),
                ("cancelled by a token", "TaskCanceledException: A task was canceled."),
                ("cancelled by a timeout", "TaskCanceledException: the report took too long"),
                ("cancelled", "TaskCanceledException: A task was canceled."),
            ],
            ended);
        Assert.False(TaskInternals.ExceptionObserved(tasks[1]));
        _ = tasks[1].Exception; // observed now: the finalizer has nothing to report
    }

    [Fact]
    public void A_size_of_0_switches_the_history_off()
    {
        Assert.Equal(0, TerminatedHistory.SizeFrom("0"));
        Assert.False(new TerminatedHistory(0).IsOn);
        Assert.Equal(TerminatedHistory.DefaultSize, TerminatedHistory.SizeFrom("many"));
        Assert.Equal(TerminatedHistory.MaxSize, TerminatedHistory.SizeFrom("10000000"));
    }

    private static async Task RanToCompletionAsync() => await Task.Yield();

    private static async Task AwaitAsync(Task gate) => await gate;

    private static async Task FaultAsync()
    {
        await Task.Yield();
        throw new InvalidOperationException("card declined\nfor order 7");
    }

    private static async Task TokenAsync(CancellationToken token)
    {
        await Task.Yield();
        await Task.Delay(Timeout.Infinite, token);
    }

    // As HttpClient's Timeout ends a request: a TaskCanceledException around a TimeoutException.
    private static async Task TimeoutAsync()
    {
        await Task.Yield();
        throw new TaskCanceledException("the report took too long", new TimeoutException("100 ms"));
    }

    private static async Task TrySetCanceledAsync()
    {
        var source = new TaskCompletionSource();
        source.TrySetCanceled();
        await Task.Yield();
        await source.Task;
    }
}
