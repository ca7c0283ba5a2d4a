using Xunit;
using System.Diagnostics.Tracing;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Tests.Tracking.AsyncEvents;

/// <summary>The reader over buffers the 11.0.0 runtime wrote (Recorded/README.md).</summary>
public sealed class RecordedBufferTests
{
    [Fact]
    public void MetadataGivesTheClockAndAManifestEqualToTheShippedOne()
    {
        var (header, events, error) = Recorded.Decode(Recorded.Buffer("metadata"));

        Assert.Equal(AsyncEventBufferError.None, error);
        var metadata = Assert.Single(events);
        Assert.Equal(AsyncEventKind.AsyncProfilerMetadata, metadata.Kind);
        Assert.Equal(1u, header.EventCount);

        var reader = new AsyncEventReader(Recorded.Buffer("metadata"), AsyncEventManifest.Shipped);
        Assert.True(reader.Next(out var e));
        var clock = new AsyncEventClock(1, 0, 0);
        Assert.True(clock.Update(e, out var manifest));
        Assert.Equal(1_000_000_000, clock.Frequency);
        Assert.NotNull(manifest);
        for (var id = 0; id < 256; id++)
        {
            Assert.Equal(AsyncEventManifest.Shipped.Lists((byte)id), manifest.Lists((byte)id));
            Assert.Equal(AsyncEventManifest.Shipped.Decodes((byte)id), manifest.Decodes((byte)id));
            if (manifest.Lists((byte)id))
                Assert.Equal(AsyncEventManifest.Shipped.LengthField((byte)id), manifest.LengthField((byte)id));
        }
        // The runtime paired the clocks as it wrote the event: the pairing's UTC time is when the recording was made.
        Assert.Equal(new DateTime(2026, 12, 5), new DateTime(clock.ToUtcTicks(e.Timestamp), DateTimeKind.Utc).Date);
    }

    [Theory]
    [InlineData("metadata")]
    [InlineData("mixed-exception")]
    [InlineData("runtime-async-suspend")]
    [InlineData("await-loop-1")]
    [InlineData("await-loop-2")]
    public void EveryEventIsDecodedInTimeOrderUpToTheHeadersLastTimestamp(string name)
    {
        var (header, events, error) = Recorded.Decode(Recorded.Buffer(name));

        Assert.Equal(AsyncEventBufferError.None, error);
        Assert.Equal((int)header.EventCount, events.Count);
        Assert.Equal(header.LastTimestamp, events[^1].Timestamp);
        Assert.True(events[0].Timestamp >= header.StartTimestamp);
        for (var i = 1; i < events.Count; i++)
            Assert.True(events[i].Timestamp >= events[i - 1].Timestamp);
        Assert.All(events, e => Assert.Equal(e.FrameCount, e.Frames.Count));
    }

    [Fact]
    public void TheAwaitLoopResumesTheSameThreeMethodsInEveryContextAndChainsContextsByParent()
    {
        var (first, events1, _) = Recorded.Decode(Recorded.Buffer("await-loop-1"));
        var (second, events2, _) = Recorded.Decode(Recorded.Buffer("await-loop-2"));
        Assert.Equal(first.OsThreadId, second.OsThreadId);
        Assert.Equal(first.ContextId, second.ContextId);
        var events = events1.Concat(events2).ToList();

        // The buffers split an iteration: the context's resume ends the first, its stack starts the second.
        Assert.Equal(AsyncEventKind.ResumeStateMachineAsyncContext, events1[^1].Kind);
        Assert.Equal(AsyncEventKind.ResumeStateMachineAsyncCallstack, events2[0].Kind);
        Assert.Equal(events1[^1].DispatcherId, events2[0].DispatcherId);

        var stacks = events.Where(e => e.Kind == AsyncEventKind.ResumeStateMachineAsyncCallstack).ToList();
        Assert.True(stacks.Count >= 35, $"{stacks.Count} stacks");
        var methods = stacks[0].Frames.Select(f => f.Id).ToList();
        Assert.Equal(3, methods.Distinct().Count());
        Assert.DoesNotContain(0UL, methods);
        Assert.All(stacks, s => Assert.Equal(methods.Select(id => (id, 0)), s.Frames));

        // Once the loop runs steadily (the second buffer), each iteration: resume context n (stack Leaf, Mid, Main), Leaf and Mid run to completion, Main runs on and
        // awaits Mid again, whose Task.Yield creates context n+1 from context n, and context n completes.
        var start = events.FindIndex(events1.Count, e => e.Kind == AsyncEventKind.ResumeStateMachineAsyncContext);
        var iteration = new[]
        {
            AsyncEventKind.ResumeStateMachineAsyncContext, AsyncEventKind.ResumeStateMachineAsyncCallstack,
            AsyncEventKind.ResumeStateMachineAsyncMethod, AsyncEventKind.CompleteStateMachineAsyncMethod,
            AsyncEventKind.ResumeStateMachineAsyncMethod, AsyncEventKind.CompleteStateMachineAsyncMethod,
            AsyncEventKind.ResumeStateMachineAsyncMethod, AsyncEventKind.CreateStateMachineAsyncContext,
            AsyncEventKind.CompleteStateMachineAsyncContext,
        };
        var whole = (events.Count - start) / iteration.Length;
        Assert.True(whole >= 18, $"{whole} iterations");
        for (var i = 0; i < whole; i++)
        {
            var slice = events.Skip(start + i * iteration.Length).Take(iteration.Length).ToList();
            Assert.Equal(iteration, slice.Select(e => e.Kind));
            Assert.Equal(slice[0].DispatcherId, slice[1].DispatcherId);
            Assert.Equal(slice[0].DispatcherId, slice[7].ParentDispatcherId);
            Assert.Equal(slice[0].DispatcherId + 1, slice[7].DispatcherId);
        }
    }

    [Fact]
    public void AnExceptionUnwindsOneStateMachineFrameAndRuntimeAsyncContextsAreCreatedFromTheStateMachinesOne()
    {
        var (_, events, _) = Recorded.Decode(Recorded.Buffer("mixed-exception"));

        var unwind = Assert.Single(events, e => e.Kind == AsyncEventKind.UnwindStateMachineAsyncException);
        Assert.Equal(1u, unwind.UnwoundFrames);
        // The throwing method's context: its stack was the thrower (state 0) over Main (state 1).
        var resumed = events.Last(e => e.Kind == AsyncEventKind.ResumeStateMachineAsyncCallstack && e.Timestamp < unwind.Timestamp);
        Assert.Equal([0, 1], resumed.Frames.Select(f => f.State));

        var created = events.First(e => e.Kind == AsyncEventKind.CreateRuntimeAsyncContext);
        var createdStack = events[events.IndexOf(created) + 1];
        Assert.Equal(AsyncEventKind.CreateRuntimeAsyncCallstack, createdStack.Kind);
        Assert.Equal((created.DispatcherId, created.ParentDispatcherId), (createdStack.DispatcherId, createdStack.ParentDispatcherId));
        Assert.Contains(events, e => e.Kind == AsyncEventKind.CreateStateMachineAsyncContext && e.DispatcherId == created.ParentDispatcherId);
        Assert.Contains(events, e => e.Kind == AsyncEventKind.ResumeRuntimeAsyncContext && e.DispatcherId == created.DispatcherId);
        Assert.All(createdStack.Frames, f => Assert.Equal(-1, f.State));
    }

    [Fact]
    public void ARuntimeAsyncContextSuspendsWithItsStack()
    {
        var (_, events, _) = Recorded.Decode(Recorded.Buffer("runtime-async-suspend"));

        var resume = events.FindIndex(e => e.Kind == AsyncEventKind.ResumeRuntimeAsyncContext);
        Assert.Equal(
            [
                AsyncEventKind.ResumeRuntimeAsyncContext, AsyncEventKind.ResumeRuntimeAsyncCallstack,
                AsyncEventKind.ResumeRuntimeAsyncMethod, AsyncEventKind.CompleteRuntimeAsyncMethod,
                AsyncEventKind.ResumeRuntimeAsyncMethod, AsyncEventKind.CompleteRuntimeAsyncMethod,
                AsyncEventKind.ResumeRuntimeAsyncMethod, AsyncEventKind.CompleteRuntimeAsyncMethod,
                AsyncEventKind.ResumeRuntimeAsyncMethod, AsyncEventKind.SuspendRuntimeAsyncCallstack,
                AsyncEventKind.SuspendRuntimeAsyncContext,
            ],
            events.Skip(resume).Take(11).Select(e => e.Kind));
        var suspended = events[resume + 9];
        Assert.Equal(events[resume].DispatcherId, suspended.DispatcherId);
        Assert.Equal(4, suspended.Frames.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DecodingAndAssemblingStepsAllocateNothingPerEvent(bool steps)
    {
        var buffers = new[] { Recorded.Buffer("await-loop-1"), Recorded.Buffer("await-loop-2"), Recorded.Buffer("mixed-exception") };
        var sink = new CountingSink();
        var listener = AsyncEventsListener.Start(steps ? new AsyncStepAssembler(sink) : sink, EventKeywords.None);
        foreach (var buffer in buffers)
            listener.Decode(buffer);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            foreach (var buffer in buffers)
                listener.Decode(buffer);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        listener.Dispose();

        Assert.True(steps ? sink.Steps > 10_000 : sink.Events > 30_000);
        Assert.Equal(0, allocated);
    }

    private sealed class CountingSink : IAsyncEventSink, IAsyncStepSink
    {
        public long Events, Steps, Contexts;
        public ulong Frames;

        public void OnStep(in AsyncStep step) => Steps++;

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at) => Contexts++;

        public void OnAsyncEvent(in AsyncEventBufferHeader header, in AsyncEvent e, long utcTicks)
        {
            Events++;
            var frames = e.Frames;
            while (frames.Next(out var id, out _))
                Frames += id;
        }
    }
}
