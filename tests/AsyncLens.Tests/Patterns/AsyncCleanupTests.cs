using Xunit;

namespace AsyncLens.Tests.Patterns;

/// <summary>AsyncCleanup.RunAsync: cleanup runs with a token of its own after the work's token was canceled, bounded by its timeout.</summary>
public sealed class AsyncCleanupTests
{
    [Fact]
    public async Task Cleanup_runs_to_its_end_after_the_work_was_canceled()
    {
        using var work = new CancellationTokenSource();
        var closed = false;
        CancellationToken given = default;
        try
        {
            work.Cancel();
            work.Token.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException)
        {
            await AsyncCleanup.RunAsync(async token =>
            {
                given = token;
                await Task.Delay(10, token);
                closed = true;
            }, TimeSpan.FromSeconds(30));
        }
        Assert.True(closed);
        Assert.NotEqual(work.Token, given);
        Assert.False(given.IsCancellationRequested);
    }

    [Fact]
    public async Task A_cleanup_that_honours_its_token_is_canceled_when_the_timeout_passes()
    {
        CancellationToken given = default;
        var thrown = await Assert.ThrowsAsync<TimeoutException>(() => AsyncCleanup.RunAsync(token =>
        {
            given = token;
            return Task.Delay(Timeout.Infinite, token);
        }, TimeSpan.FromMilliseconds(50)));
        Assert.True(given.IsCancellationRequested);
        Assert.Contains("0.05 s", thrown.Message);
    }

    [Fact]
    public async Task A_cleanup_that_ignores_its_token_is_not_waited_for_past_the_timeout()
    {
        var never = new TaskCompletionSource();
        await Assert.ThrowsAsync<TimeoutException>(() => AsyncCleanup.RunAsync(_ => never.Task, TimeSpan.FromMilliseconds(50)));
        Assert.False(never.Task.IsCompleted);
        never.SetException(new IOException("late")); // observed by RunAsync: not left for the GC to report
        Assert.True(AsyncLens.Runtime.TaskInternals.ExceptionObserved(never.Task));
    }

    [Fact]
    public async Task A_failing_cleanup_throws_its_own_exception()
    {
        var thrown = await Assert.ThrowsAsync<IOException>(() => AsyncCleanup.RunAsync(_ => Task.FromException(new IOException("close failed")), TimeSpan.FromSeconds(5)));
        Assert.Equal("close failed", thrown.Message);
    }

    [Fact]
    public async Task Bad_arguments_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(() => AsyncCleanup.RunAsync(null!, TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => AsyncCleanup.RunAsync(_ => Task.CompletedTask, TimeSpan.Zero));
        await AsyncCleanup.RunAsync(_ => Task.CompletedTask, Timeout.InfiniteTimeSpan);
    }
}
