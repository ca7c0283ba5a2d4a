using System.Diagnostics;
using System.Reflection;
using AsyncLens.Detection;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>
/// A frame standing in for a framework's handler (a message consumer, a job: <see cref="FrameKind.Request"/>) ends when
/// that handler's run on its thread ends, whatever thread says so: its handler ended on another thread (an async
/// consumer whose last step ran there: the framework's activity stopped there), or its thread went back to the pool
/// with the handler parked. The watchdog does not watch it any more: before, it read as a hung-step once its thread
/// had been idle for a second (Backoffice on .NET 11's async events alone: PriceQuoteConsumer, AuditConsumer,
/// SummaryJob in 4 runs of 20). Each fact has a frame whose handler still runs beside, reported hung in the same tick.
/// </summary>
public sealed class HandlerFramesTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    private static readonly MethodInfo s_handler = typeof(Consumer).GetMethod(nameof(Consumer.Consume))!;

    [Fact]
    public void A_handler_that_ended_on_another_thread_is_not_hung_on_the_thread_it_began_on()
    {
        var now = DetectionSettings.Now;
        using var running = StandIn.OnItsOwnThread(now - 2000 * Ms);
        using var endedElsewhere = StandIn.OnItsOwnThread(now - 2000 * Ms);
        var stop = new Thread(() => endedElsewhere.Run!.Stop());
        stop.Start();
        stop.Join();

        var hung = HungThreads(now);
        Assert.Contains(running.Tracker.ThreadId, hung);
        Assert.DoesNotContain(endedElsewhere.Tracker.ThreadId, hung);
        Assert.False(running.Tracker.StandsForNothing(running.Frame));
        Assert.True(endedElsewhere.Tracker.StandsForNothing(endedElsewhere.Frame));
    }

    [Fact]
    public void A_handler_that_parked_and_left_its_thread_to_the_pool_is_not_hung_there()
    {
        var now = DetectionSettings.Now;
        using var running = StandIn.OnItsOwnThread(now - 2000 * Ms);
        ThreadTracker? poolThread = null;
        Frame? parked = null;
        using (var pushed = new ManualResetEventSlim())
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ =>
            {
                poolThread = ThreadTracker.Current;
                parked = StandIn.Push(poolThread, now - 2000 * Ms, run: null);
                pushed.Set();
            }, null);
            pushed.Wait();
        }
        try
        {
            Assert.True(parked!.WorkItem >= 0, "the pool's count of a worker's completed work items is not read on this runtime");
            // The pool counts the work item right after it returns.
            Assert.True(SpinWait.SpinUntil(() => poolThread!.StandsForNothing(parked), TimeSpan.FromSeconds(30)));

            var hung = HungThreads(now);
            Assert.Contains(running.Tracker.ThreadId, hung);
            Assert.DoesNotContain(poolThread!.ThreadId, hung);
        }
        finally
        {
            // No engine runs in this process: nothing else writes that pool thread's frames.
            poolThread!.Pop();
            parked!.Exit();
        }
    }

    // The threads the watchdog's tick at `now` reports a hung-step on (hung past 1 s).
    private static List<int> HungThreads(long now)
    {
        var sink = new Sink();
        var settings = new DetectionSettings(new AsyncDebugOptions { SlowStepThreshold = TimeSpan.FromMilliseconds(100), HungStepThreshold = TimeSpan.FromSeconds(1) });
        new SlowSteps(settings, sink, TimeProvider.System, _ => null, new Stalls()).Tick(now);
        return sink.Found.OfType<StepFinding>().Where(f => f.Evidence.Ongoing).Select(f => f.ThreadId).ToList();
    }

    private sealed class Consumer
    {
        public Task Consume() => Task.CompletedTask;
    }

    private sealed class Sink : IFindingSink
    {
        public List<Finding> Found { get; } = [];

        public void Add(Finding finding)
        {
            lock (Found)
                Found.Add(finding);
        }
    }

    /// <summary>A handler's stand-in frame on a thread of its own, as debug mode pushes it when the handler begins there; taken off when disposed.</summary>
    private sealed class StandIn : IDisposable
    {
        private readonly ManualResetEventSlim _done = new();
        private readonly Thread _thread;

        private StandIn(long start)
        {
            using var pushed = new ManualResetEventSlim();
            _thread = new Thread(() =>
            {
                Tracker = ThreadTracker.Current;
                Run = new Activity("consume").Start();
                Frame = Push(Tracker, start, Run);
                pushed.Set();
                _done.Wait();
                Tracker.Pop();
                Frame.Exit();
            });
            _thread.Start();
            pushed.Wait();
        }

        public ThreadTracker Tracker { get; private set; } = null!;

        public Frame Frame { get; private set; } = null!;

        public Activity? Run { get; private set; }

        public static StandIn OnItsOwnThread(long start) => new(start);

        public static Frame Push(ThreadTracker tracker, long start, Activity? run)
        {
            var frame = tracker.Push();
            frame.Enter(0, FrameKind.Request, start, null, null, null, AsyncState.Unknown, null);
            frame.WorkItem = WorkItems.CompletedOnThisThread();
            frame.Endpoint = s_handler;
            frame.EndpointAt = start;
            frame.HandlerRun = run;
            return frame;
        }

        public void Dispose()
        {
            _done.Set();
            _thread.Join();
            _done.Dispose();
        }
    }
}
