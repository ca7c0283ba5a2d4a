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

        public void OnStackResumed(ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states) => Resumed.Add(methods.ToArray());

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
        {
        }
    }
}
