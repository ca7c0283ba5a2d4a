using Xunit;

namespace AsyncLens.Tests.Patterns;

/// <summary>AsyncTasks.WhenAllSettled and WithAllExceptions: every outcome, every exception, in order.</summary>
public sealed class AsyncTasksTests
{
    [Fact]
    public async Task WhenAllSettled_returns_one_outcome_per_task_in_the_order_given_whichever_ends_first()
    {
        var slow = new TaskCompletionSource<int>();
        var failing = new TaskCompletionSource<int>();
        var canceled = new TaskCompletionSource<int>();
        var settled = AsyncTasks.WhenAllSettled(slow.Task, failing.Task, Task.FromResult(3), canceled.Task);
        canceled.SetCanceled();
        failing.SetException(new InvalidOperationException("b failed"));
        Assert.False(settled.IsCompleted);
        slow.SetResult(1);

        var outcomes = await settled;

        Assert.Equal([TaskStatus.RanToCompletion, TaskStatus.Faulted, TaskStatus.RanToCompletion, TaskStatus.Canceled], outcomes.Select(o => o.Status));
        Assert.Equal(1, outcomes[0].Result);
        Assert.Equal(3, outcomes[2].Result);
        Assert.Equal("b failed", Assert.IsType<InvalidOperationException>(outcomes[1].Exception).Message);
        Assert.IsType<TaskCanceledException>(outcomes[3].Exception);
        Assert.Null(outcomes[0].Exception);
        Assert.Equal(default, outcomes[1].Value);
        Assert.IsType<InvalidOperationException>(Assert.Throws<InvalidOperationException>(() => outcomes[1].Result).InnerException);
    }

    [Fact]
    public async Task WhenAllSettled_never_throws_for_a_member_and_marks_every_fault_observed()
    {
        Task[] tasks = [Task.FromException(new TimeoutException("one")), Task.CompletedTask, Task.FromException(new IOException("two"))];
        var outcomes = await AsyncTasks.WhenAllSettled((IEnumerable<Task>)tasks);

        Assert.Equal(["TimeoutException", null, "IOException"], outcomes.Select(o => o.Exception?.GetType().Name));
        Assert.All(outcomes, o => Assert.Same(tasks[Array.IndexOf(outcomes, o)], o.Task));
        Assert.All(tasks.Where(t => t.IsFaulted), t => Assert.True(AsyncLens.Runtime.TaskInternals.ExceptionObserved(t)));
    }

    [Fact]
    public async Task WhenAllSettled_keeps_every_exception_of_a_task_that_faulted_with_several()
    {
        var both = Task.WhenAll(Task.FromException(new TimeoutException("a")), Task.FromException(new IOException("b")));
        var outcome = (await AsyncTasks.WhenAllSettled(both)).Single();
        Assert.Equal(["a", "b"], outcome.Exceptions.Select(e => e.Message));
        Assert.IsType<AggregateException>(outcome.Exception);
    }

    [Fact]
    public async Task WhenAllSettled_of_no_tasks_is_empty_and_a_null_task_is_refused()
    {
        Assert.Empty(await AsyncTasks.WhenAllSettled());
        await Assert.ThrowsAsync<ArgumentNullException>(() => AsyncTasks.WhenAllSettled(Task.CompletedTask, null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => AsyncTasks.WhenAllSettled((IEnumerable<Task<int>>)null!));
    }

    [Fact]
    public async Task WithAllExceptions_throws_an_AggregateException_holding_every_exception()
    {
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        var all = Task.WhenAll(first.Task, second.Task, Task.CompletedTask).WithAllExceptions();
        second.SetException(new IOException("disk"));
        first.SetException(new TimeoutException("slow"));

        var thrown = await Assert.ThrowsAsync<AggregateException>(() => all);

        Assert.Equal(["disk", "slow"], thrown.InnerExceptions.Select(e => e.Message).Order());
    }

    [Fact]
    public async Task WithAllExceptions_of_a_result_task_gives_the_result_or_every_exception()
    {
        var results = await Task.WhenAll(Task.FromResult(1), Task.FromResult(2)).WithAllExceptions();
        Assert.Equal(new[] { 1, 2 }, results);
        var failing = Task.WhenAll(Task.FromException<int>(new TimeoutException("x")), Task.FromException<int>(new IOException("y")));
        var thrown = await Assert.ThrowsAsync<AggregateException>(() => failing.WithAllExceptions());
        Assert.Equal(2, thrown.InnerExceptions.Count);
    }

    [Fact]
    public async Task WithAllExceptions_passes_a_cancellation_on_as_a_cancellation()
    {
        var canceled = Task.FromCanceled(new CancellationToken(canceled: true));
        await Assert.ThrowsAsync<TaskCanceledException>(() => canceled.WithAllExceptions());
    }
}
