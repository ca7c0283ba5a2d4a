using AsyncLens.Detection;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>
/// A synchronous wait reported as a blocking-wait is not its step's own time, whichever frame the wait began in: the
/// step's own, or a notification or delegate run inline inside it (whose own time is the step's).
/// </summary>
public sealed class WaitAccountingTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    [Fact]
    public void A_wait_reported_inside_a_continuation_run_inline_is_not_the_steps_own_time()
    {
        // A step of 200 ms: 10 ms of its own, then a continuation run inline (a notification frame) that blocked 150 ms on
        // a task (reported as a blocking-wait, taken off the notification's time) and ran 5 ms of a nested step.
        var (own, excluded, waited) = OnItsOwnThread(tracker =>
        {
            var step = tracker.Push();
            step.Enter(1, FrameKind.AsyncStep, 0, null, null, null, AsyncState.Unknown, null);
            var inline = tracker.Push();
            inline.Enter(0, FrameKind.Notification, 10 * Ms, null, null, null, AsyncState.Unknown, null);
            inline.Waited = true;
            inline.ExcludedTicks = 150 * Ms;
            inline.ChildTicks = 5 * Ms;
            tracker.Pop();
            step.NestedEnded(inline, 170 * Ms, tracker);
            inline.Exit();
            var measured = SlowSteps.OwnTime(tracker, step, 200 * Ms) + tracker.EngineTicks(step);
            return (measured, step.ExcludedTicks, step.Waited);
        });
        Assert.Equal(200 * Ms - 150 * Ms - 5 * Ms, own);
        Assert.Equal(150 * Ms, excluded);
        Assert.True(waited);
    }

    [Fact]
    public void A_nested_async_steps_time_is_taken_off_whole()
    {
        var own = OnItsOwnThread(tracker =>
        {
            var step = tracker.Push();
            step.Enter(1, FrameKind.AsyncStep, 0, null, null, null, AsyncState.Unknown, null);
            var nested = tracker.Push();
            nested.Enter(2, FrameKind.AsyncStep, 10 * Ms, null, null, null, AsyncState.Unknown, null);
            nested.ExcludedTicks = 150 * Ms; // its own wait: off its own time, and the whole step is off the outer one
            tracker.Pop();
            step.NestedEnded(nested, 170 * Ms, tracker);
            nested.Exit();
            return SlowSteps.OwnTime(tracker, step, 200 * Ms) + tracker.EngineTicks(step);
        });
        Assert.Equal(200 * Ms - 160 * Ms, own);
    }

    // On a thread of its own, whose frames no other test sees; its frames are taken off at the end.
    private static T OnItsOwnThread<T>(Func<ThreadTracker, T> run)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            var tracker = ThreadTracker.Current;
            try
            {
                result = run(tracker);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            finally
            {
                while (tracker.Depth > 0)
                    tracker.Pop()?.Exit();
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new Xunit.Sdk.XunitException(failure.ToString());
        return result;
    }
}
