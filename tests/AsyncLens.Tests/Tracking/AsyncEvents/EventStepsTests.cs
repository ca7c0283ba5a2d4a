using System.Diagnostics.Tracing;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking.AsyncEvents;
using Xunit;

namespace AsyncLens.Tests.Tracking.AsyncEvents;

/// <summary>
/// What debug mode on the async events alone reads of a step besides its bounds: its callers, from its context's stack
/// once the context ends, and where it parked, from the stack its method is next resumed with (buffers recorded on 11.0.0).
/// </summary>
public sealed class EventStepsTests
{
    [Fact]
    public void EachStepOfTheAwaitLoopGetsTheFramesAboveItsOwnWithTheirAwaits()
    {
        var stack = Recorded.Decode(Recorded.Buffer("await-loop-2")).Events[0].Frames;
        var (leaf, mid, main) = (stack[0].Id, stack[1].Id, stack[2].Id);
        var sink = new Stacks();
        using (var listener = AsyncEventsListener.Start(new AsyncStepAssembler(sink), EventKeywords.None))
        {
            listener.Decode(Recorded.Buffer("await-loop-1"));
            listener.Decode(Recorded.Buffer("await-loop-2"));
        }

        var complete = sink.Known.Where(s => s.Step.MethodId != 0 && sink.Known.Count(o => o.Step.Context == s.Step.Context) == 3).ToList();
        Assert.True(complete.Count >= 3 * 18, $"{complete.Count} steps");
        Assert.All(complete.Where(s => s.Step.MethodId == leaf), s => Assert.Equal([(mid, 0), (main, 0)], Callers(s)));
        Assert.All(complete.Where(s => s.Step.MethodId == mid), s => Assert.Equal([(main, 0)], Callers(s)));
        Assert.All(complete.Where(s => s.Step.MethodId == main), s => Assert.Empty(Callers(s)));
        // Each context's stack was handed over as it resumed, while asked for.
        Assert.Contains(sink.Resumed, r => r.SequenceEqual([leaf, mid, main]));
    }

    [Fact]
    public void AStepThatLeftIsFoundAgainUnderTheSameCallersAndParkedWhereThatStackSays()
    {
        var step = new SlowEventStep(new AsyncStep(7, 1, 0x20, 0, 0, 10, AsyncStepEnd.Left));
        step.SetCallers([0x30], [2]);

        Assert.False(step.ResumedAgainIn([0x10, 0x20, 0x30], [1, 3, 4], out _)); // its caller moved on: another call
        Assert.True(step.ResumedAgainIn([0x10, 0x20, 0x30], [1, 3, 2], out var at));
        Assert.Equal(1, at);
        Assert.Equal(AsyncState.Unknown, step.StoppedState); // set by EventSteps from the stack: states[at]

        // No callers known (they awaited it after its context resumed, and it never completed to have them appended):
        // the method's next resume anywhere, and its callers taken from there.
        var alone = new SlowEventStep(new AsyncStep(7, 1, 0x20, 0, 0, 10, AsyncStepEnd.Left));
        Assert.True(alone.ResumedAgainIn([0x10, 0x20, 0x30], [1, 3, 2], out at));
        Assert.Equal([0x30UL], alone.CallerMethods);
        Assert.Equal([2], alone.CallerStates);
    }

    [Fact]
    public void ASlowRuntimeAsyncStepIsHeldUntilTheContextItsBodysParkCreatedResumesAndGetsThatBoxAtItsAwait()
    {
        // Bugs parallel-first-step on 11.0.0: the Parallel.ForEachAsync worker (runtime async) ran the body's first
        // step (a 0.25 s Thread.Sleep); the body's first await parked, creating a state-machine context from the worker's.
        var events = Recorded.Decode(Recorded.Buffer("parallel-first-step")).Events;
        var created = Assert.Single(events, e => e.Kind == AsyncEventKind.CreateStateMachineAsyncContext && e.ParentDispatcherId != 0);
        var body = events.First(e => e.Kind == AsyncEventKind.ResumeStateMachineAsyncCallstack && e.DispatcherId == created.DispatcherId).Frames[0];
        var slow = new List<SlowEventStep>();
        using (var steps = new EventSteps(SlowTicks, waitForStop: true, slow.Add))
            steps.Decode(Recorded.Buffer("parallel-first-step"));

        var step = Assert.Single(slow);
        Assert.Equal(created.ParentDispatcherId, step.Step.Context);
        Assert.InRange(step.Step.End - step.Step.Start, 2_500_000, 2_600_000);
        var child = Assert.Single(step.Children!);
        Assert.Equal(created.DispatcherId, child.Context);
        Assert.InRange(step.Step.End - child.CreatedAt, 0, TimeSpan.TicksPerMillisecond); // the park, at the step's last millisecond
        Assert.Equal((body.Id, 0), (child.LeafMethod, child.LeafState)); // the body's MoveNext, at its first await
    }

    [Fact]
    public void AChildContextResumedOnAThreadWhoseBufferCameFirstIsFoundInTheRememberedStacks()
    {
        const ulong Worker = 0x100, Body = 0x200;
        var resumed = new BufferBuilder(start: 400_000_000, osThread: 43)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 400_000_000, 4)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 400_000_000, [0, 0, 1, 4, .. BufferBuilder.Unsigned(Body), 0])
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, 400_000_100)
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, 400_000_200)
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 400_000_300)
            .Build();
        var worker = new BufferBuilder(start: 1_000, osThread: 42)
            .Event(AsyncEventKind.ResumeRuntimeAsyncContext, 1_000, 3)
            .Event(AsyncEventKind.ResumeRuntimeAsyncCallstack, 1_000, [0, 0, 1, 3, .. BufferBuilder.Unsigned(Worker)])
            .Event(AsyncEventKind.ResumeRuntimeAsyncMethod, 1_000)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, 300_000_000, 3, 4)
            .Event(AsyncEventKind.SuspendRuntimeAsyncContext, 300_001_000)
            .Build();
        var slow = new List<SlowEventStep>();
        using var steps = new EventSteps(SlowTicks, waitForStop: true, slow.Add);

        steps.Decode(resumed);
        steps.Decode(worker);
        Assert.Empty(slow); // held: its child's resume was handed over before it
        steps.Expire(AsyncLens.Detection.DetectionSettings.Now, all: false);

        var child = Assert.Single(Assert.Single(slow).Children!);
        Assert.Equal((4UL, Body, 0), (child.Context, child.LeafMethod, child.LeafState));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ABoxsParkIsFoundOnItsThreadAndItsFirstResumeWhileKeptThoughItsResumingThreadRanMoreContextsSince(bool kept)
    {
        // A handler's first step on a bus's thread (context 3, the framework's loop) parks its box: context 4 is created
        // there; another thread resumes it, then runs nine more contexts, past the eight it remembers the stacks of.
        const ulong Loop = 0x100, Handler = 0x200, Other = 0x300;
        var bus = new BufferBuilder(start: 1_000, osThread: 42)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000, 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 1_000, [0, 0, 1, 3, .. BufferBuilder.Unsigned(Loop), 0])
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, 1_000)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, 300_000_000, 3, 4)
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, 300_001_000)
            .Build();
        var resumer = new BufferBuilder(start: 400_000_000, osThread: 43)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 400_000_000, 4)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 400_000_000, [0, 0, 1, 4, .. BufferBuilder.Unsigned(Handler), 0])
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, 400_000_100)
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, 400_000_200)
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 400_000_300);
        for (byte context = 10; context < 19; context++)
        {
            var at = 500_000_000L + context * 1_000;
            resumer.Event(AsyncEventKind.ResumeStateMachineAsyncContext, at, context)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, at, [0, 0, 1, context, .. BufferBuilder.Unsigned(Other), 2])
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, at + 100)
                .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, at + 200)
                .Event(AsyncEventKind.CompleteStateMachineAsyncContext, at + 300);
        }
        using var steps = new EventSteps(SlowTicks, waitForStop: true, _ => { });
        steps.KeepResumes(kept);

        steps.Decode(bus);
        steps.Decode(resumer.Build());

        var created = new List<(ulong Context, long At)>();
        Assert.True(steps.ContextsCreated(42, long.MinValue, long.MaxValue, created));
        var (context4, createdAt) = Assert.Single(created);
        Assert.Equal(4UL, context4);
        Assert.Empty(CreatedOn(steps, 43));
        Assert.Equal(kept, steps.FirstResume(4, createdAt, out var method, out var state));
        if (kept)
            Assert.Equal((Handler, 0), (method, state)); // the box that parked, at the await it parked at
    }

    [Fact]
    public void AWatchedThreadsParksKeepTheWholeStackOfTheirFirstResumeAppendedCallersIncludedThoughTheResumingThreadRanMoreContextsSince()
    {
        // Async Main's first step on thread 7, outside any context: Leaf parks (context 4), later Main's own box (context
        // 5); thread 42 parks a box too (context 6). Thread 43 resumes 4 with Leaf, then Main (the runtime appends it, as
        // Main awaited Leaf after it parked), then nine more contexts.
        const ulong Leaf = 0x100, Main = 0x180, Other = 0x300;
        var main = new BufferBuilder(start: 1_000, osThread: 7)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, 200_000_000, 0, 4)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, 300_000_000, 0, 5)
            .Build();
        var pool = new BufferBuilder(start: 1_000, osThread: 42)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, 250_000_000, 0, 6)
            .Build();
        var resumer = new BufferBuilder(start: 400_000_000, osThread: 43)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 400_000_000, 4)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 400_000_000, [0, 0, 1, 4, .. BufferBuilder.Unsigned(Leaf), 0])
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, 400_000_200)
            .Event(AsyncEventKind.AppendStateMachineAsyncCallstack, 400_000_200, [0, 0, 1, 4, .. BufferBuilder.Unsigned(Main), .. BufferBuilder.Signed(2)])
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 400_000_300)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 400_001_000, 6)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 400_001_000, [0, 0, 1, 6, .. BufferBuilder.Unsigned(Other), 0])
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 400_001_300);
        for (byte context = 10; context < 19; context++)
        {
            var at = 500_000_000L + context * 1_000;
            resumer.Event(AsyncEventKind.ResumeStateMachineAsyncContext, at, context)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, at, [0, 0, 1, context, .. BufferBuilder.Unsigned(Other), 2])
                .Event(AsyncEventKind.CompleteStateMachineAsyncContext, at + 300);
        }
        using var steps = new EventSteps(SlowTicks, waitForStop: true, _ => { });
        steps.WatchContextsCreatedOn(7);

        steps.Decode(main);
        steps.Decode(pool);
        steps.Decode(resumer.Build());

        var created = CreatedOn(steps, 7);
        Assert.Equal([4UL, 5UL], created.Select(c => c.Item1));
        Assert.True(steps.FirstResumeStack(4, created[0].Item2, out var methods, out var states));
        Assert.Equal([Leaf, Main], methods);
        Assert.Equal([0, 2], states);
        Assert.False(steps.FirstResumeStack(5, created[1].Item2, out _, out _)); // not resumed yet
        var (other, at6) = Assert.Single(CreatedOn(steps, 42));
        Assert.False(steps.FirstResumeStack(other, at6, out _, out _)); // not the watched thread's
    }

    [Fact]
    public void MoreParksOnAThreadThanItsRingKeepsSayTheSpanIsNotKnownWhole()
    {
        var bus = new BufferBuilder(start: 1_000, osThread: 42)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000, 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 1_000, [0, 0, 1, 3, .. BufferBuilder.Unsigned(0x100), 0])
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, 1_000);
        for (byte context = 10; context < 27; context++)
            bus.Event(AsyncEventKind.CreateStateMachineAsyncContext, 1_000_000L * context, 3, context);
        using var steps = new EventSteps(SlowTicks, waitForStop: true, _ => { });
        steps.Decode(bus.Build());

        var created = new List<(ulong Context, long At)>();
        Assert.False(steps.ContextsCreated(42, long.MinValue, long.MaxValue, created)); // 17 parks: the first is gone
        Assert.Equal(16, created.Count);
        Assert.Equal(11UL, created[0].Context); // oldest first
        var within = new List<(ulong Context, long At)>();
        Assert.True(steps.ContextsCreated(42, created[4].At, long.MaxValue, within)); // older ones kept: none of the span lost
        Assert.Equal(created.Skip(4), within);
    }

    private static List<(ulong, long)> CreatedOn(EventSteps steps, ulong osThreadId)
    {
        var created = new List<(ulong, long)>();
        steps.ContextsCreated(osThreadId, long.MinValue, long.MaxValue, created);
        return created;
    }

    [Fact]
    public void AStateMachineStepIsGivenNoChildrenAndARuntimeAsyncStepThatParkedNothingIsNotHeld()
    {
        var slow = new List<SlowEventStep>();
        using (var steps = new EventSteps(SlowTicks, waitForStop: true, slow.Add))
        {
            steps.Decode(new BufferBuilder(start: 1_000, osThread: 42)
                .Event(AsyncEventKind.ResumeRuntimeAsyncContext, 1_000, 3)
                .Event(AsyncEventKind.ResumeRuntimeAsyncCallstack, 1_000, [0, 0, 1, 3, 0x10])
                .Event(AsyncEventKind.ResumeRuntimeAsyncMethod, 1_000)
                .Event(AsyncEventKind.CompleteRuntimeAsyncMethod, 300_000_000)
                .Event(AsyncEventKind.CompleteRuntimeAsyncContext, 300_000_000)
                .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 300_001_000, 5)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 300_001_000, [0, 0, 1, 5, 0x20, 0])
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, 300_001_000)
                .Event(AsyncEventKind.CreateStateMachineAsyncContext, 600_000_000, 5, 6)
                .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, 600_001_000)
                .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 600_001_000)
                .Build());
        }

        Assert.Equal(2, slow.Count);
        Assert.Empty(slow[0].Children!);
        Assert.Null(slow[1].Children);
    }

    private static readonly long SlowTicks = 100 * TimeSpan.TicksPerMillisecond;

    private static List<(ulong, int)> Callers(SlowEventStep s) => [.. s.CallerMethods.Zip(s.CallerStates)];

    private sealed class Stacks : IAsyncStackSink
    {
        public List<SlowEventStep> Known { get; } = [];

        public List<ulong[]> Resumed { get; } = [];

        public bool WatchesStacks => true;

        public bool RemembersStacks => false;

        public void OnStep(in AsyncStep step) => throw new InvalidOperationException("a stack sink is given its steps with their callers");

        public SlowEventStep? OnStepWithCallers(in AsyncStep step) => new(step);

        public void OnCallersKnown(SlowEventStep step) => Known.Add(step);

        public void OnStackResumed(ulong context, long resumedAt, ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states) => Resumed.Add(methods.ToArray());

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
        {
        }
    }
}
