using Xunit;

namespace AsyncLens.Tests.Patterns;

/// <summary>Forget: the handler is called once with the fault, and never for a success or a cancellation.
/// (The report written when no handler is given: ForgetReportTests, on a real program.)</summary>
public sealed class ForgetTests
{
    [Fact]
    public async Task The_handler_is_called_once_with_the_fault_of_a_task_that_faults_later()
    {
        var source = new TaskCompletionSource();
        var seen = new List<Exception>();
        source.Task.Forget(seen.Add);
        Assert.Empty(seen);

        source.SetException(new InvalidOperationException("later"));
        await source.Task.ContinueWith(_ => { }, TaskScheduler.Default);

        Assert.Equal("later", Assert.Single(seen).Message);
        Assert.True(AsyncLens.Runtime.TaskInternals.ExceptionObserved(source.Task));
    }

    [Fact]
    public void Forget_on_an_already_faulted_task_calls_the_handler_at_once_and_once()
    {
        var seen = new List<Exception>();
        var faulted = Task.FromException(new TimeoutException("already"));
        faulted.Forget(seen.Add);
        Assert.Equal("already", Assert.Single(seen).Message);
        Assert.True(AsyncLens.Runtime.TaskInternals.ExceptionObserved(faulted));
    }

    [Fact]
    public void A_task_that_faulted_with_several_exceptions_gives_the_handler_all_of_them()
    {
        Exception? seen = null;
        Task.WhenAll(Task.FromException(new TimeoutException("a")), Task.FromException(new IOException("b"))).Forget(e => seen = e);
        Assert.Equal(["a", "b"], Assert.IsType<AggregateException>(seen).InnerExceptions.Select(e => e.Message));
    }

    [Fact]
    public async Task Success_and_cancellation_do_not_call_the_handler()
    {
        var calls = 0;
        Task.CompletedTask.Forget(_ => calls++);
        Task.FromCanceled(new CancellationToken(canceled: true)).Forget(_ => calls++);
        new ValueTask(Task.Delay(1)).Forget(_ => calls++);
        default(ValueTask).Forget(_ => calls++);
        await Task.Delay(20);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void A_faulted_ValueTask_goes_to_the_handler_once()
    {
        var seen = new List<Exception>();
        new ValueTask(Task.FromException(new IOException("vt"))).Forget(seen.Add);
        Assert.Equal("vt", Assert.Single(seen).Message);
    }

    [Fact]
    public void A_null_task_or_handler_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => ((Task)null!).Forget());
        Assert.Throws<ArgumentNullException>(() => Task.CompletedTask.Forget((Action<Exception>)null!));
    }
}
