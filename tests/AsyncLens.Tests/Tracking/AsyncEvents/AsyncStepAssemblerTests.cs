using System.Diagnostics.Tracing;
using AsyncLens.Tracking.AsyncEvents;
using Xunit;

namespace AsyncLens.Tests.Tracking.AsyncEvents;

/// <summary>Method steps assembled from buffers recorded on 11.0.0 (Recorded/README.md).</summary>
public sealed class AsyncStepAssemblerTests
{
    [Fact]
    public void TheAwaitLoopGivesLeafAndMidCompletingThenMainAwaitingInEveryContextAcrossBuffers()
    {
        var steps = Assemble("await-loop-1", "await-loop-2");
        var stack = Recorded.Decode(Recorded.Buffer("await-loop-2")).Events[0].Frames.Select(f => f.Id).ToArray();
        var (leaf, mid, main) = (stack[0], stack[1], stack[2]);

        // The second buffer's first context was resumed in the first buffer, its stack came in the second.
        var boundary = Recorded.Decode(Recorded.Buffer("await-loop-2")).Events[0].DispatcherId;
        var contexts = steps.Steps.Where(s => s.MethodId != 0).GroupBy(s => s.Context).Where(g => g.Key >= boundary).ToList();
        Assert.True(contexts.Count >= 18, $"{contexts.Count} contexts");
        foreach (var context in contexts.SkipLast(1))
        {
            Assert.Equal(
                [(leaf, 0, AsyncStepEnd.Completed), (mid, 0, AsyncStepEnd.Completed), (main, 0, AsyncStepEnd.Left)],
                context.Select(s => (s.MethodId, s.ResumedState, s.How)));
            Assert.All(context, s => Assert.True(s.End >= s.Start));
            Assert.True(context.ElementAt(1).Start >= context.First().End);
        }
        // Each context's Task.Yield created the next one, from within it.
        Assert.All(contexts.SkipLast(1), c => Assert.Contains(steps.Created, x => x.Parent == c.Key && x.Context == c.Key + 1));
        Assert.All(steps.Steps, s => Assert.Equal(Recorded.Decode(Recorded.Buffer("await-loop-1")).Header.OsThreadId, s.OsThreadId));
    }

    [Fact]
    public void AThrowingMethodsStepIsFaultedAndItsCallerResumesFromItsOwnAwait()
    {
        var steps = Assemble("mixed-exception").Steps;

        var faulted = Assert.Single(steps, s => s.How == AsyncStepEnd.Faulted);
        Assert.Equal(0, faulted.ResumedState);
        var next = steps[steps.IndexOf(faulted) + 1];
        Assert.Equal(faulted.Context, next.Context);
        Assert.Equal(1, next.ResumedState);
        Assert.NotEqual(faulted.MethodId, next.MethodId);
        Assert.NotEqual(0UL, next.MethodId);
    }

    [Fact]
    public void ARuntimeAsyncContextGivesOneStepPerMethodAndTheLastLeavesWhenItSuspends()
    {
        var (steps, assembler) = AssembleWith("runtime-async-suspend");
        var resumed = Recorded.Decode(Recorded.Buffer("runtime-async-suspend")).Events.First(e => e.Kind == AsyncEventKind.ResumeRuntimeAsyncCallstack);

        var context = steps.Steps.Where(s => s.Context == resumed.DispatcherId).ToList();

        // The stack's first frame has no code address: the runtime's own continuation, which handed the awaited result
        // on to the three methods above it; its step has id 0, counted.
        Assert.Equal(0UL, resumed.Frames[0].Id);
        Assert.Equal(1, assembler.RuntimeContinuations);
        Assert.Equal([AsyncStepEnd.Completed, AsyncStepEnd.Completed, AsyncStepEnd.Completed, AsyncStepEnd.Left], context.Select(s => s.How));
        Assert.Equal(resumed.Frames.Select(f => f.Id), context.Select(s => s.MethodId));
        Assert.All(context, s => Assert.Equal(-1, s.ResumedState));
    }

    [Fact]
    public void StepTimesAreOnTheTplEventsClock()
    {
        var steps = Assemble("metadata", "await-loop-1").Steps;

        // The metadata's clock pairing dates the steps to the recording (2026-12-05), in DateTime ticks.
        Assert.All(steps, s => Assert.Equal(new DateTime(2026, 12, 5), new DateTime(s.Start, DateTimeKind.Utc).Date));
        Assert.Contains(steps, s => s.End - s.Start < TimeSpan.TicksPerMillisecond);
    }

    // Debug mode does not take the method resume events (AsyncEventFormat.StepKeywords): an assembler told so ignores the
    // recorded ones, and must make the same steps of the rest, each begun where the one before it ended (no later than
    // its recorded resume, and within the time the runtime took between the two events).
    [Theory]
    [InlineData("await-loop-1,await-loop-2")]
    [InlineData("mixed-exception")]
    [InlineData("runtime-async-suspend")]
    [InlineData("parallel-first-step")]
    public void WithoutMethodResumeEventsTheSameStepsBeginWhereTheStepBeforeThemEnded(string buffers)
    {
        // The metadata first: both listeners then date the events by its clock pairing, not each by its own.
        string[] names = ["metadata", .. buffers.Split(',')];
        var (raised, withResumes) = AssembleWith(true, names);
        var (derived, without) = AssembleWith(false, names);

        Assert.NotEmpty(raised.Steps);
        Assert.Equal(raised.Steps.Select(s => (s.OsThreadId, s.Context, s.MethodId, s.ResumedState, s.End, s.How)),
            derived.Steps.Select(s => (s.OsThreadId, s.Context, s.MethodId, s.ResumedState, s.End, s.How)));
        Assert.All(raised.Steps.Zip(derived.Steps), p => Assert.InRange(p.Second.Start, p.First.Start - TimeSpan.TicksPerMillisecond, p.First.Start));
        Assert.Equal(raised.Created, derived.Created);
        Assert.Equal(withResumes.RuntimeContinuations, without.RuntimeContinuations);
    }

    private static Collected Assemble(params string[] buffers) => AssembleWith(true, buffers).Steps;

    private static (Collected Steps, AsyncStepAssembler Assembler) AssembleWith(params string[] buffers) => AssembleWith(true, buffers);

    private static (Collected Steps, AsyncStepAssembler Assembler) AssembleWith(bool methodResumes, params string[] buffers)
    {
        var collected = new Collected();
        var assembler = new AsyncStepAssembler(collected, methodResumes);
        using var listener = AsyncEventsListener.Start(assembler, EventKeywords.None);
        foreach (var name in buffers)
            listener.Decode(Recorded.Buffer(name));
        return (collected, assembler);
    }

    private sealed class Collected : IAsyncStepSink
    {
        public List<AsyncStep> Steps { get; } = [];

        public List<(ulong Parent, ulong Context)> Created { get; } = [];

        public void OnStep(in AsyncStep step) => Steps.Add(step);

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at) => Created.Add((parent, context));
    }
}
