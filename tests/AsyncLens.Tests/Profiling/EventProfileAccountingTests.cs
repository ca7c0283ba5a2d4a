using System.Diagnostics;
using System.Diagnostics.Tracing;
using AsyncLens.Profiling;
using AsyncLens.Symbols;
using AsyncLens.Tests.Tracking.AsyncEvents;
using AsyncLens.Tracking.AsyncEvents;
using Xunit;

namespace AsyncLens.Tests.Profiling;

/// <summary>
/// The profiler's accounting on .NET 11's async events (<see cref="EventProfileAccounting"/>), over hand-built buffers
/// in the runtime's format and the recorded await loop: calls, their callers, wall and on-thread time, whatever order
/// the threads' buffers come in.
/// </summary>
public sealed partial class EventProfileAccountingTests
{
    private const ulong Main = 0x1000, Run = 0x2000, Delay = 0x3000, Spin = 0x4000, Framework = 0x5000, RunTiered = 0x2800,
        Loop = 0x6000, Mid = 0x7000, Leaf = 0x8000, Load = 0x9000;

    // Times in the buffers are Stopwatch time stamps; the profile's are DateTime ticks.
    private static long Ms(double ms) => (long)Math.Round(ms * Stopwatch.Frequency / 1000);

    private static TimeSpan Span(double ms) => TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));

    // The Profiled target in small: Main's first step calls Run, whose first step calls Delay, which parks on a delay
    // (context 5, created outside any step, on the main thread). Thread B resumes it 200 ms later: Delay completes, Run
    // calls Spin, which parks on a yield (context 6, created in Run's step), Run parks on it. Thread C resumes context 6
    // before Run awaited Spin (its stack holds Spin alone), spins 50 ms; Spin completes and the runtime appends Run and
    // Main as it resumes them: both complete.
    // runAtEnd: the id Run's frame carries as Spin completes (its code may have been compiled again meanwhile).
    private static byte[][] ProfiledInSmall(ulong runAtEnd = Run) =>
    [
        new BufferBuilder(start: Ms(1), osThread: 1)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(1), 0, 5)
            .Build(),
        new BufferBuilder(start: Ms(201), osThread: 2)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(201), 5)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(201), Stack(5, (Delay, 0), (Run, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(201))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(201.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(201.1))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(201.2), 5, 6)
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(201.3))
            .Build(),
        new BufferBuilder(start: Ms(201.4), osThread: 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(201.4), 6)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(201.4), Stack(6, (Spin, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(201.4))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(251.4))
            .Event(AsyncEventKind.AppendStateMachineAsyncCallstack, Ms(251.4), Stack(6, (runAtEnd, 1), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(251.4))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(251.5))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(251.5))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(251.6))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(251.6))
            .Build(),
    ];

    public static TheoryData<int[]> Orders => new() { new[] { 0, 1, 2 }, new[] { 2, 1, 0 }, new[] { 1, 2, 0 }, new[] { 2, 0, 1 } };

    [Theory]
    [MemberData(nameof(Orders))]
    public void EachCallRunsFromTheCreationOfTheContextItsFirstParkMadeToItsCompletionInWhateverOrderTheBuffersCome(int[] order)
    {
        var profile = Profile(ProfileScopeUser, [.. order.Select(i => ProfiledInSmall()[i])]);

        Assert.Equal(["M1000", "M2000", "M3000", "M4000"], profile.Methods.Select(m => m.Method).Order(StringComparer.Ordinal));
        var (main, run, delay, spin) = (Method(profile, Main), Method(profile, Run), Method(profile, Delay), Method(profile, Spin));
        Assert.All([main, run, delay, spin], m => Assert.Equal((1, 0, 0), (m.Calls, m.Pending, m.StartedBefore)));
        // Main, Run and Delay from the delay's park (1 ms), Spin from its yield's (201.2 ms).
        Near(Span(251.6 - 1), main.Wall);
        Near(Span(251.5 - 1), run.Wall);
        Near(Span(201.1 - 1), delay.Wall);
        Near(Span(251.4 - 201.2), spin.Wall);
        Near(Span(50), spin.OnThread);
        Near(Span(0.2 + 0.1), run.OnThread); // its step after Delay (to its park) and after Spin
        Near(run.Wall - delay.Wall - spin.Wall, run.SelfWall); // parked on its callees: their time
        Near(run.OnThread + delay.OnThread + spin.OnThread, run.InclusiveOnThread);
        Assert.Equal(
            [("M1000", "M2000", 1), ("M2000", "M3000", 1), ("M2000", "M4000", 1)],
            profile.Calls.Select(c => (c.Caller, c.Callee, c.Calls)).Order());
    }

    [Fact]
    public void AMethodWhoseCodeMovedAsTheJitTieredItUpIsOneMethodItsCallsStartingAtOneIdAndEndingAtTheOther()
    {
        // The Profiled shape in small, but when Spin completed Run's code had been compiled again: the runtime appends
        // it with its new code address, which names the same method.
        var buffers = ProfiledInSmall(runAtEnd: RunTiered);

        var profile = Profile(ProfileScopeUser, buffers);

        var run = Method(profile, Run);
        Assert.Equal((1, 0, 0), (run.Calls, run.Pending, run.StartedBefore));
        Near(Span(251.5 - 1), run.Wall);
        Assert.Equal(["M1000", "M2000", "M3000", "M4000"], profile.Methods.Select(m => m.Method).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void CallsNobodyAwaitsHangUnderTheMethodWhoseStepMadeThemAndItsWaitIsItsOwn()
    {
        // Run's step calls Spin twice into Task.WhenAll: each Spin parks on a yield (contexts 6, 7), Run parks on the
        // promise (context 8, its own park); nothing awaits either Spin box, so their stacks hold them alone.
        var buffers = new[]
        {
            new BufferBuilder(start: Ms(10), osThread: 2)
                .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(10), 5)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(10), Stack(5, (Run, 0), (Main, 0)))
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10))
                .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(11), 5, 6)
                .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(12), 5, 7)
                .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(13), 5, 8)
                .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(13))
                .Build(),
            SpinRun(3, 6, Ms(20)),
            SpinRun(4, 7, Ms(20)),
            new BufferBuilder(start: Ms(80), osThread: 3)
                .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(80), 8)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(80), Stack(8, (Run, 1), (Main, 0)))
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(80))
                .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(81))
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(81))
                .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(82))
                .Build(),
        };

        var profile = Profile(ProfileScopeUser, buffers);

        var spin = Method(profile, Spin);
        Assert.Equal((2, 0), (spin.Calls, spin.Pending));
        Near(Span(50 - 11 + 50 - 12), spin.Wall);
        Assert.Equal([("M2000", "M4000", 2)], profile.Calls.Where(c => c.Callee == "M4000").Select(c => (c.Caller, c.Callee, c.Calls)));
        // Run started before the profile (no creation seen) and completed: its wait on the promise is its own.
        var run = Method(profile, Run);
        Assert.Equal((1, 1), (run.Calls, run.StartedBefore));
        Assert.Equal(run.Wall, run.SelfWall);
        // Main's step ran, though no call of it started or ended while profiled: its time, and no call.
        var main = Method(profile, Main);
        Assert.Equal((0, 0, 0), (main.Calls, main.Pending, main.StartedBefore));
        Near(Span(1), main.OnThread);
    }

    [Fact]
    public void FrameworkMethodsAreFoldedIntoTheListedMethodAboveAndTheirListedCalleesHangUnderIt()
    {
        // Run awaits a framework method that awaits Spin (a handler of the user's the framework calls back).
        var buffer = new BufferBuilder(start: Ms(1), osThread: 2)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(1), 5)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(1), Stack(5, (Spin, 0), (Framework, 2), (Run, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(3))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(3))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(7))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(7))
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(8))
            .Build();

        var folded = Profile(ProfileScopeUser, buffer);
        Assert.DoesNotContain(folded.Methods, m => m.Method == "M5000");
        Near(Span(4 + 1), Method(folded, Run).OnThread); // the framework's step, and its own
        Assert.Contains(("M2000", "M4000"), folded.Calls.Select(c => (c.Caller, c.Callee)));

        var listed = Profile(new ProfileScope(Framework: true), buffer);
        Near(Span(4), Method(listed, Framework).OnThread);
        Assert.Contains(("M5000", "M4000"), listed.Calls.Select(c => (c.Caller, c.Callee)));
    }

    [Fact]
    public void TheRecordedAwaitLoopGivesOneCallOfLeafAndMidPerIterationUnderMain()
    {
        var buffers = new[] { Recorded.Buffer("await-loop-1"), Recorded.Buffer("await-loop-2") };
        var stack = Recorded.Decode(buffers[1]).Events[0].Frames;
        var (leaf, mid, main) = (stack[0].Id, stack[1].Id, stack[2].Id);

        var (profile, toTicks) = ProfileWithClock(ProfileScopeUser, buffers);

        // Read from the events themselves: each context resumed with a stack completes Leaf (its first completion),
        // then Mid; Leaf's call started where the context was created (in the iteration before), or before the profile.
        var events = buffers.SelectMany(b => Recorded.Decode(b).Events).ToList();
        var created = events.Where(e => e.Kind == AsyncEventKind.CreateStateMachineAsyncContext).ToDictionary(e => e.DispatcherId, e => e.Timestamp);
        var (leafCalls, midCalls, leafWall, leafBefore) = (0, 0, 0L, 0);
        ulong context = 0;
        var (stacked, completions) = (false, 0);
        foreach (var e in events)
        {
            if (e.Kind == AsyncEventKind.ResumeStateMachineAsyncContext)
                (context, stacked, completions) = (e.DispatcherId, false, 0);
            else if (e.Kind == AsyncEventKind.ResumeStateMachineAsyncCallstack)
                stacked = true;
            else if (e.Kind == AsyncEventKind.CompleteStateMachineAsyncMethod && stacked && ++completions <= 2)
            {
                if (completions == 2)
                {
                    midCalls++;
                    continue;
                }
                leafCalls++;
                if (created.TryGetValue(context, out var at))
                    leafWall += toTicks(e.Timestamp) - toTicks(at);
                else
                    (leafWall, leafBefore) = (leafWall + toTicks(e.Timestamp) - toTicks(0), leafBefore + 1);
            }
        }
        Assert.True(leafCalls >= 18, $"{leafCalls} iterations");

        var (leafRow, midRow) = (Method(profile, leaf), Method(profile, mid));
        Assert.Equal((leafCalls, 0, leafBefore), (leafRow.Calls, leafRow.Pending, leafRow.StartedBefore));
        Assert.Equal(midCalls, midRow.Calls);
        Assert.True(Math.Abs(leafWall - leafRow.Wall.Ticks) <= 4 * leafCalls, $"expected {leafWall} ticks, got {leafRow.Wall.Ticks}");
        Assert.Equal([(Name(main), Name(mid)), (Name(mid), Name(leaf))], profile.Calls.Select(c => (c.Caller, c.Callee)).Order());
        // Main's box was made before the recording: its steps' time, and no call.
        Assert.Equal((0, 0), (Method(profile, main).Calls, Method(profile, main).Pending));
        Assert.True(Method(profile, main).OnThread > TimeSpan.Zero);
    }

    private static readonly ProfileScope ProfileScopeUser = new();

    private static byte[] SpinRun(ulong thread, byte context, long at) =>
        new BufferBuilder(start: at, osThread: thread)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, at, context)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, at, Stack(context, (Spin, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, at)
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, at + Ms(30))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, at + Ms(30))
            .Build();

    // A state-machine callstack payload: flags, continuation index, frame count, context, then each frame's method id
    // (the first whole, the others as differences) and state.
    private static byte[] Stack(ulong context, params (ulong Id, int State)[] frames)
    {
        var bytes = new List<byte> { 0, 0, (byte)frames.Length };
        bytes.AddRange(BufferBuilder.Unsigned(context));
        for (var i = 0; i < frames.Length; i++)
        {
            bytes.AddRange(i == 0 ? BufferBuilder.Unsigned(frames[i].Id) : BufferBuilder.Signed((long)(frames[i].Id - frames[i - 1].Id)));
            bytes.AddRange(BufferBuilder.Signed(frames[i].State));
        }
        return [.. bytes];
    }

    // Each time is converted from a time stamp on its own: a difference may be a tick off.
    private static void Near(TimeSpan expected, TimeSpan actual) =>
        Assert.True(Math.Abs((expected - actual).Ticks) <= 4, $"expected {expected.TotalMilliseconds} ms, got {actual.TotalMilliseconds} ms");

    private static string Name(ulong id) => $"M{id:x}";

    private static AsyncMethodProfile Method(AsyncProfile profile, ulong id) => Assert.Single(profile.Methods, m => m.Method == Name(id));

    private static AsyncProfile Profile(ProfileScope scope, params byte[][] buffers) => ProfileWithClock(scope, buffers).Profile;

    // Keys by id: Framework's is the framework's, every other the user's; RunTiered is Run's code compiled again. The profile starts at time stamp 0 and stops
    // at the last event; toTicks converts a time stamp as the listener did.
    private static (AsyncProfile Profile, Func<long, long> ToTicks) ProfileWithClock(ProfileScope scope, params byte[][] buffers)
    {
        var keys = new Dictionary<ulong, MethodKey>();
        MethodKey KeyOf(ulong id) => id == RunTiered ? KeyOf(Run)
            : keys.TryGetValue(id, out var key) ? key : keys[id] = new MethodKey(id, null, id == Framework ? CodeKind.Framework : CodeKind.User);
        EventProfileAccounting? accounting = null;
        var assembler = EventProfilerEngine.Assembler(new Deferred(() => accounting!));
        using var listener = AsyncEventsListener.Start(assembler, (EventKeywords)AsyncEventFormat.ProfilerKeywords);
        var clock = listener.Clock.Current;
        accounting = new EventProfileAccounting(clock.ToUtcTicks(0), KeyOf, key => new ProfiledMethod(Name((ulong)key.Code!), null, 0, key.Kind));
        var last = 0L;
        foreach (var buffer in buffers)
        {
            listener.Decode(buffer);
            last = Math.Max(last, Recorded.Decode(buffer).Events.Max(e => e.Timestamp));
        }
        assembler.EndRunsNow();
        return (accounting.Stop(clock.ToUtcTicks(last), scope), clock.ToUtcTicks);
    }

    // The accounting needs the listener's clock for its start, the assembler the accounting: made once the clock is.
    private sealed class Deferred(Func<EventProfileAccounting> accounting) : IAsyncRunSink
    {
        public void OnRun(in AsyncRun run) => accounting().OnRun(run);

        public void OnStep(in AsyncStep step)
        {
        }

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
        {
        }
    }
}
