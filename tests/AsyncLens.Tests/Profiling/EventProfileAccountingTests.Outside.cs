using AsyncLens.Tests.Tracking.AsyncEvents;
using AsyncLens.Tracking.AsyncEvents;
using Xunit;

namespace AsyncLens.Tests.Profiling;

/// <summary>
/// Contexts made outside any context (<see cref="AsyncLens.Profiling.EventProfileAccounting"/>): a new call's first park,
/// or an old box the runtime resumed bare that parks again or calls code that parks (docs/async-events.md).
/// </summary>
public sealed partial class EventProfileAccountingTests
{
    // The await benchmark's race, as recorded on 11.0.0 (a scratch listener over 400,000 iterations: 19-26 contexts
    // created outside any context): Loop's step calls Mid, which calls Leaf; Leaf parks on a yield (context 7, made in
    // Loop's step) and another thread runs it before Mid awaited Leaf, so its stack holds Leaf alone and nothing is
    // appended. Mid's continuation is then queued to the pool as a bare box (no context: no event), and Loop, resumed
    // inline there, calls Mid again: that Leaf's park makes context 8 outside any context, whose stack holds the new Leaf
    // and Mid under the old Loop and Main. Contexts 5 (Main's first step) and 6 (Loop's step, the usual iteration) are
    // the calls' first parks.
    private static byte[][] RacedLoop() =>
    [
        new BufferBuilder(start: Ms(1), osThread: 1)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(1), 0, 5)
            .Build(),
        new BufferBuilder(start: Ms(10), osThread: 2)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(10), 5)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(10), Stack(5, (Leaf, 0), (Mid, 0), (Loop, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.2))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(10.3), 5, 6)
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(10.4))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(11), 6)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(11), Stack(6, (Leaf, 0), (Mid, 0), (Loop, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(11.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(11.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11.2))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(11.3), 6, 7)
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(20))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(21), 0, 8)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(21.1), 8)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(21.1), Stack(8, (Leaf, 0), (Mid, 0), (Loop, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(21.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(21.2))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.3))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(21.3))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.4))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(21.4))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.5))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(21.5))
            .Build(),
        new BufferBuilder(start: Ms(11.4), osThread: 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(11.4), 7)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(11.4), Stack(7, (Leaf, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11.4))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(11.5))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(11.5))
            .Build(),
    ];

    [Theory]
    [MemberData(nameof(Orders))]
    public void AContextMadeOutsideAnyContextByABoxResumedOutsideOneStartsOnlyTheCallsBelowTheFrameThatMakesItsChainsParks(int[] order)
    {
        var profile = Profile(ProfileScopeUser, [.. order.Select(i => RacedLoop()[i])]);

        // One call each of Main and Loop (from Main's first park to the end), none pending: context 8 made no new call of
        // either. Four iterations: Mid's third completed outside any context (no event), three seen; Leaf's four.
        var (main, loop, mid, leaf) = (Method(profile, Main), Method(profile, Loop), Method(profile, Mid), Method(profile, Leaf));
        Assert.Equal((1, 0, 0), (main.Calls, main.Pending, main.StartedBefore));
        Assert.Equal((1, 0, 0), (loop.Calls, loop.Pending, loop.StartedBefore));
        Near(Span(21.5 - 1), main.Wall);
        Near(Span(21.4 - 1), loop.Wall);
        Assert.Equal((3, 0, 0), (mid.Calls, mid.Pending, mid.StartedBefore));
        Near(Span(10.2 - 1 + 11.2 - 10.3 + 21.3 - 21), mid.Wall);
        Assert.Equal((4, 0, 0), (leaf.Calls, leaf.Pending, leaf.StartedBefore));
        Near(Span(10.1 - 1 + 11.1 - 10.3 + 11.5 - 11.3 + 21.2 - 21), leaf.Wall);
    }

    [Fact]
    public void ContextsMadeOutsideAnyContextStartEveryFrameOfTheirChainWhereNoBoxOfItIsLeftWaiting()
    {
        // A work item of the pool calls Loop, whose first step makes context 8 at chain Main > Loop > Mid > Leaf, the
        // chain Loop's step made context 6 at (the same frames as RacedLoop's): its Main and Loop are new calls, the
        // first call of each having completed and nothing having been left unawaited by Loop's step.
        var buffers = RacedLoop();
        var second = new BufferBuilder(start: Ms(30), osThread: 4)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(30), 0, 9)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(31), 9)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(31), Stack(9, (Leaf, 0), (Mid, 0), (Loop, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(31))
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(31.1))
            .Build();

        var profile = Profile(ProfileScopeUser, [buffers[0], buffers[2], buffers[1], second]);

        Assert.Equal((1, 1), (Method(profile, Main).Calls, Method(profile, Main).Pending));
        Assert.Equal((1, 1), (Method(profile, Loop).Calls, Method(profile, Loop).Pending));
        Assert.Equal((3, 1), (Method(profile, Mid).Calls, Method(profile, Mid).Pending));
    }

    // Storefront's shape on 11.0.0 (Release: 1-2 phantom pending calls of Store.LoadAsync and its callers a run): Run's
    // step calls Load, whose first await parks (context 5, made in Run's step); a value-task source later runs Load's
    // continuation bare (no context: no event), and Load parks again at its second await, outside any context (context
    // 6), whose first run's stack holds the old Load at state 1 under the old Run and Main.
    private static byte[][] LoadParkedAgainOutside() =>
    [
        new BufferBuilder(start: Ms(1), osThread: 1)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(1), 0, 4)
            .Build(),
        new BufferBuilder(start: Ms(5), osThread: 2)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(5), 4)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(5), Stack(4, (Run, 0), (Main, 0)))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(5.1), 4, 5)
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(5.2))
            .Build(),
        new BufferBuilder(start: Ms(8), osThread: 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(8), 5)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(8), Stack(5, (Load, 0), (Run, 1), (Main, 0)))
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(8.1))
            .Build(),
        new BufferBuilder(start: Ms(20), osThread: 4)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(20), 0, 6)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(21), 6)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(21), Stack(6, (Load, 1), (Run, 1), (Main, 0)))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.2))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(21.3))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(21.3))
            .Build(),
    ];

    // The first park's creation and first run before the second park's (learnt from them), the program's first in any place.
    public static TheoryData<int[]> ParkOrders => new() { new[] { 0, 1, 2, 3 }, new[] { 1, 2, 3, 0 }, new[] { 2, 1, 0, 3 } };

    [Theory]
    [MemberData(nameof(ParkOrders))]
    public void ABoxResumedOutsideAnyContextThatParksAgainAtAnotherAwaitIsNoNewCall(int[] order)
    {
        var profile = Profile(ProfileScopeUser, [.. order.Select(i => LoadParkedAgainOutside()[i])]);

        var (main, run, load) = (Method(profile, Main), Method(profile, Run), Method(profile, Load));
        Assert.Equal((1, 0, 0), (load.Calls, load.Pending, load.StartedBefore));
        Assert.Equal((1, 0, 0), (run.Calls, run.Pending, run.StartedBefore));
        Assert.Equal((1, 0, 0), (main.Calls, main.Pending, main.StartedBefore));
        Near(Span(21.1 - 5.1), load.Wall);
        Near(Span(21.2 - 1), run.Wall);
    }

    // Two requests (Storefront's, Release, 11.0.0): Main calls Run, whose resumed step calls Load, which parks at its
    // query (Leaf: context 6, made in Run's step; request A). Request B's Load parks first on a pool (context 8, made in
    // Run's step) and is handed its connection in Spin's step, another request's, which runs it inline: it parks again
    // at its query (context 10, made in Spin's step, its stack B's Leaf, Load, Run and Main). Context 8 never runs.
    private static byte[][] PoolHandedOver() =>
    [
        new BufferBuilder(start: Ms(1), osThread: 1)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(1), 0, 5)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(3), 0, 7)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(15), 0, 9)
            .Build(),
        new BufferBuilder(start: Ms(2), osThread: 2)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(2), 5)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(2), Stack(5, (Run, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(2))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2.1), 5, 6)
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(2.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(10), 6)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(10), Stack(6, (Leaf, 0), (Load, 1), (Run, 1), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.2))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.3))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.3))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.4))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(10.4))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(20), 9)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(20), Stack(9, (Spin, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(20))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(20.1), 9, 10)
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(20.2))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(20.2))
            .Build(),
        new BufferBuilder(start: Ms(4), osThread: 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(4), 7)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(4), Stack(7, (Run, 0), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(4))
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(4.1), 7, 8)
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, Ms(4.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(30), 10)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(30), Stack(10, (Leaf, 0), (Load, 1), (Run, 1), (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(30))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(30.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(30.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(30.2))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(30.2))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(30.3))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(30.3))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(30.4))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(30.4))
            .Build(),
    ];

    [Theory]
    [MemberData(nameof(Orders))]
    public void ABoxResumedInlineInAnotherMethodsStepThatParksAgainStartsOnlyTheCallsBelowTheFrameThatMakesItsChainsParks(int[] order)
    {
        var profile = Profile(ProfileScopeUser, [.. order.Select(i => PoolHandedOver()[i])]);

        // Two requests: Main and Run two calls each, none pending (B's Run and Main were counted from its first context).
        Assert.All([Main, Run, Load, Leaf], m => Assert.Equal((2, 0, 0), (Method(profile, m).Calls, Method(profile, m).Pending, Method(profile, m).StartedBefore)));
        Near(Span(10.4 - 1 + 30.4 - 3), Method(profile, Main).Wall);
        Assert.Equal(
            [("M1000", "M2000", 2), ("M2000", "M9000", 2), ("M9000", "M8000", 2)],
            profile.Calls.Select(c => (c.Caller, c.Callee, c.Calls)).Order());
    }
}
