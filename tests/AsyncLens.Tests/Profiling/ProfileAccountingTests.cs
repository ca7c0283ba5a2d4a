using AsyncLens.Profiling;
using Xunit;

namespace AsyncLens.Tests.Profiling;

/// <summary>
/// The profiler's accounting over recorded TPL event sequences (as .NET 10 raises them): who a call's caller is, what
/// is counted, what is folded. Times are given, so figures are checked exactly; nothing here depends on a clock.
/// </summary>
public sealed class ProfileAccountingTests
{
    private static string Edges(AsyncProfile profile) =>
        string.Join("\n", profile.Calls.Select(c => $"{c.Caller} -> {c.Callee} x{c.Calls}").Order(StringComparer.Ordinal));

    private static string Rows(AsyncProfile profile) =>
        string.Join("\n", profile.Methods.Select(m => $"{m.Method} calls={m.Calls} pending={m.Pending}").Order(StringComparer.Ordinal));

    private static AsyncMethodProfile Row(AsyncProfile profile, string method) => Assert.Single(profile.Methods, m => m.Method == method);

    [Fact]
    public void Calls_joined_into_a_WhenAll_are_the_callees_of_the_method_that_awaits_it_not_of_the_step_that_created_them()
    {
        // Main: await WhenAllCase(); WhenAllCase (in its first step): var a = Leaf(); var b = Mid(); await Task.WhenAll(a, b); Mid: await Leaf().
        // Leaf a has no awaiter: only the promise's Join, raised while its continuations run, says where it went.
        var profile = new RecordedEvents()
            .Begin(1, 0.1, 2, "Async: <Leaf>d__2").Wait(1, 0.2, 1, 2)
            .Begin(1, 0.4, 4, "Async: <Leaf>d__2").Wait(1, 0.5, 3, 4)
            .Begin(1, 0.6, 5, "Async: <Mid>d__1").Wait(1, 0.7, 4, 5)
            .Begin(1, 0.8, 6, "Task.WhenAll")
            .Begin(1, 0.9, 7, "Async: <WhenAllCase>d__0").Wait(1, 1.0, 6, 7)
            .Begin(1, 1.1, 8, "Async: <Main>d__0").Wait(1, 1.2, 7, 8)
            .Notify(5, 5.0, 1).Step(5, 5.1, 2).End(5, 5.2, 2).Notify(5, 5.3, 2).Join(5, 5.4, 6).EndStep(5, 5.5).EndStep(5, 5.6).EndStep(5, 5.7)
            .Notify(5, 6.0, 3).Step(5, 6.1, 4).End(5, 6.2, 4).Notify(5, 6.3, 4)
            .Step(5, 6.4, 5).End(5, 6.5, 5).Notify(5, 6.6, 5).Join(5, 6.7, 6).End(5, 6.8, 6).Notify(5, 6.9, 6)
            .Step(5, 7.0, 7).End(5, 7.1, 7).Notify(5, 7.2, 7).Step(5, 7.3, 8).End(5, 7.4, 8)
            .EndStep(5, 7.5).EndStep(5, 7.6).EndStep(5, 7.7).EndStep(5, 7.8).EndStep(5, 7.9).EndStep(5, 8.0).EndStep(5, 8.1).EndStep(5, 8.2)
            .Stop(10);

        Assert.Equal("""
            Main -> WhenAllCase x1
            Mid -> Leaf x1
            WhenAllCase -> Leaf x1
            WhenAllCase -> Mid x1
            """, Edges(profile));
        Assert.Equal("Leaf calls=2 pending=0\nMain calls=1 pending=0\nMid calls=1 pending=0\nWhenAllCase calls=1 pending=0", Rows(profile));
        // WhenAllCase waited on the promise of its two callees from 1.0 to 7.0 ms: that part of its wall is theirs.
        Assert.Equal(TimeSpan.FromMilliseconds(0.2), Row(profile, "WhenAllCase").SelfWall);
    }

    [Fact]
    public void A_call_that_completed_before_the_WhenAll_over_it_was_made_is_the_callee_of_the_method_that_awaits_it()
    {
        // Page (first step): var said = Reviews(); var product = Load(); await Task.WhenAll(said, product). Reviews
        // completed on another thread before the WhenAll was made: the promise takes no continuation on it, no Join comes.
        var profile = new RecordedEvents()
            .Begin(1, 0.1, 2, "Async: <Reviews>d__1").Wait(1, 0.2, 1, 2)
            .Notify(2, 0.3, 1).Step(2, 0.4, 2).End(2, 0.5, 2).EndStep(2, 0.6).EndStep(2, 0.7)
            .Begin(1, 1.0, 4, "Async: <Load>d__2").Wait(1, 1.1, 3, 4)
            .Begin(1, 1.2, 5, "Task.WhenAll")
            .Begin(1, 1.3, 6, "Async: <Page>d__0").Wait(1, 1.4, 5, 6)
            .Notify(1, 5.0, 3).Step(1, 5.1, 4).End(1, 5.2, 4).Notify(1, 5.3, 4).Join(1, 5.4, 5).End(1, 5.5, 5).Notify(1, 5.6, 5)
            .Step(1, 5.7, 6).End(1, 5.8, 6).EndStep(1, 5.9).EndStep(1, 6.0).EndStep(1, 6.1).EndStep(1, 6.2).EndStep(1, 6.3)
            .Stop(10);

        Assert.Equal("Page -> Load x1\nPage -> Reviews x1", Edges(profile));
    }

    [Fact]
    public void A_call_that_completed_on_another_thread_while_the_WhenAll_over_it_was_made_is_the_callee_of_the_method_that_awaits_it()
    {
        // As above, but Reviews completes on thread 2 just after the promise was made on thread 1, before the promise looked
        // at it (it finds it completed: no continuation, no Join): its completion is recorded after the promise's creation
        // (a race seen on a loaded machine, StorefrontProfileTests: "GetPageAsync -> Reviews.GetAsync: counted 8, the profile 7").
        var profile = new RecordedEvents()
            .Begin(1, 0.1, 2, "Async: <Reviews>d__1").Wait(1, 0.2, 1, 2)
            .Begin(1, 1.0, 4, "Async: <Load>d__2").Wait(1, 1.1, 3, 4)
            .Begin(1, 1.2, 5, "Task.WhenAll")
            .Notify(2, 1.21, 1).Step(2, 1.22, 2).End(2, 1.23, 2).EndStep(2, 1.24).EndStep(2, 1.25)
            .Begin(1, 1.3, 6, "Async: <Page>d__0").Wait(1, 1.4, 5, 6)
            .Notify(1, 5.0, 3).Step(1, 5.1, 4).End(1, 5.2, 4).Notify(1, 5.3, 4).Join(1, 5.4, 5).End(1, 5.5, 5).Notify(1, 5.6, 5)
            .Step(1, 5.7, 6).End(1, 5.8, 6).EndStep(1, 5.9).EndStep(1, 6.0).EndStep(1, 6.1).EndStep(1, 6.2).EndStep(1, 6.3)
            .Stop(10);

        Assert.Equal("Page -> Load x1\nPage -> Reviews x1", Edges(profile));
    }

    [Fact]
    public void Task_Run_of_an_async_lambda_is_one_call_under_the_method_that_awaits_it()
    {
        // TaskRunCase: await Task.Run(async () => await Leaf()). The delegate task (1) runs the lambda's first step and
        // creates its box (7) last; the Unwrap promise (2) joins the box and is awaited by TaskRunCase (3).
        var profile = new RecordedEvents()
            .Begin(1, 0.1, 1, "Task: <Main>b__0_9")
            .Begin(1, 0.2, 2, "Task.Unwrap")
            .Begin(1, 0.3, 3, "Async: <TaskRunCase>d__3").Wait(1, 0.4, 2, 3)
            .Step(4, 1.0, 1)
            .Begin(4, 1.2, 6, "Async: <Leaf>d__2").Wait(4, 1.3, 5, 6)
            .Begin(4, 1.4, 7, "Async: <<Main>b__0_9>d").Wait(4, 1.5, 6, 7)
            .EndStep(4, 1.6).End(4, 1.7, 1).Notify(4, 1.8, 1).EndStep(4, 1.9)
            .Notify(4, 4.0, 5).Step(4, 4.1, 6).End(4, 4.2, 6).Notify(4, 4.3, 6)
            .Step(4, 4.4, 7).End(4, 4.5, 7).Notify(4, 4.6, 7).Join(4, 4.7, 2).End(4, 4.8, 2).Notify(4, 4.9, 2)
            .Step(4, 5.0, 3).End(4, 5.1, 3)
            .EndStep(4, 5.2).EndStep(4, 5.3).EndStep(4, 5.4).EndStep(4, 5.5).EndStep(4, 5.6).EndStep(4, 5.7).EndStep(4, 5.8)
            .Stop(10);

        Assert.Equal("Task.Run(<Main>b__0_9) -> Leaf x1\nTaskRunCase -> Task.Run(<Main>b__0_9) x1", Edges(profile));
        var run = Row(profile, "Task.Run(<Main>b__0_9)");
        // From the task's creation to the lambda's completion; on-thread: the task's step and the box's.
        Assert.True(run is { Calls: 1, Pending: 0 }, Rows(profile));
        Assert.Equal(TimeSpan.FromMilliseconds(4.5 - 0.1), run.Wall);
        Assert.Equal(TimeSpan.FromMilliseconds(0.6 + 0.1), run.OnThread);
    }

    [Fact]
    public void Task_Run_of_an_async_lambda_whose_box_completes_before_the_task_is_recorded_is_still_one_call()
    {
        // As above, but the task's thread (4) stops right after the task's end, before its completion frame: the lambda's
        // box completes on thread 5 and is recorded first (seen on a loaded machine, StorefrontProfileTests: a row
        // "Restocking.RunAsync lambda at Catalog.cs:64" beside "Task.Run(Restocking.RunAsync lambda at Catalog.cs:64)").
        var profile = new RecordedEvents()
            .Begin(1, 0.1, 1, "Task: <Main>b__0_9")
            .Begin(1, 0.2, 2, "Task.Unwrap")
            .Begin(1, 0.3, 3, "Async: <TaskRunCase>d__3").Wait(1, 0.4, 2, 3)
            .Step(4, 1.0, 1)
            .Begin(4, 1.2, 6, "Async: <Leaf>d__2").Wait(4, 1.3, 5, 6)
            .Begin(4, 1.4, 7, "Async: <<Main>b__0_9>d").Wait(4, 1.5, 6, 7)
            .EndStep(4, 1.6).End(4, 1.7, 1)
            .Notify(5, 4.0, 5).Step(5, 4.1, 6).End(5, 4.2, 6).Notify(5, 4.3, 6)
            .Step(5, 4.4, 7).End(5, 4.5, 7).Notify(5, 4.6, 7).Join(5, 4.7, 2).End(5, 4.8, 2).Notify(5, 4.9, 2)
            .Step(5, 5.0, 3).End(5, 5.1, 3)
            .EndStep(5, 5.2).EndStep(5, 5.3).EndStep(5, 5.4).EndStep(5, 5.5).EndStep(5, 5.6).EndStep(5, 5.7).EndStep(5, 5.8)
            .Notify(4, 6.0, 1).EndStep(4, 6.1).EndStep(4, 6.2)
            .Stop(10);

        Assert.Equal("Task.Run(<Main>b__0_9) -> Leaf x1\nTaskRunCase -> Task.Run(<Main>b__0_9) x1", Edges(profile));
        Assert.True(Row(profile, "Task.Run(<Main>b__0_9)") is { Calls: 1, Pending: 0 }, Rows(profile));
        Assert.Equal(TimeSpan.FromMilliseconds(4.5 - 0.1), Row(profile, "Task.Run(<Main>b__0_9)").Wall);
    }

    [Fact]
    public void Task_Run_of_an_async_lambda_whose_box_completes_before_the_task_ends_is_still_one_call()
    {
        // As above, but the task's thread (4) stops before the task's end itself: the lambda's box completes on thread 5
        // while its task is still running (seen in a fresh-clone suite on a quiet machine, StorefrontProfileTests Release:
        // the row "Restocking.RunAsync lambda at Catalog.cs:64" again). The box waits for its task, then takes it in.
        var profile = new RecordedEvents()
            .Begin(1, 0.1, 1, "Task: <Main>b__0_9")
            .Begin(1, 0.2, 2, "Task.Unwrap")
            .Begin(1, 0.3, 3, "Async: <TaskRunCase>d__3").Wait(1, 0.4, 2, 3)
            .Step(4, 1.0, 1)
            .Begin(4, 1.2, 6, "Async: <Leaf>d__2").Wait(4, 1.3, 5, 6)
            .Begin(4, 1.4, 7, "Async: <<Main>b__0_9>d").Wait(4, 1.5, 6, 7)
            .EndStep(4, 1.6)
            .Notify(5, 4.0, 5).Step(5, 4.1, 6).End(5, 4.2, 6).Notify(5, 4.3, 6)
            .Step(5, 4.4, 7).End(5, 4.5, 7).Notify(5, 4.6, 7).Join(5, 4.7, 2).End(5, 4.8, 2).Notify(5, 4.9, 2)
            .Step(5, 5.0, 3).End(5, 5.1, 3)
            .EndStep(5, 5.2).EndStep(5, 5.3).EndStep(5, 5.4).EndStep(5, 5.5).EndStep(5, 5.6).EndStep(5, 5.7).EndStep(5, 5.8)
            .End(4, 6.0, 1).Notify(4, 6.1, 1).EndStep(4, 6.2).EndStep(4, 6.3)
            .Stop(10);

        Assert.Equal("Task.Run(<Main>b__0_9) -> Leaf x1\nTaskRunCase -> Task.Run(<Main>b__0_9) x1", Edges(profile));
        Assert.True(Row(profile, "Task.Run(<Main>b__0_9)") is { Calls: 1, Pending: 0 }, Rows(profile));
        Assert.Equal(TimeSpan.FromMilliseconds(4.5 - 0.1), Row(profile, "Task.Run(<Main>b__0_9)").Wall);
    }

    [Fact]
    public void A_ContinueWith_task_is_timed_from_its_creation_not_counted_as_started_before_profiling()
    {
        var profile = new RecordedEvents()
            .Begin(1, 100.0, 2, "Task.ContinueWith: <Main>b__0_8")
            .Begin(1, 100.2, 3, "Task.Unwrap")
            .Begin(1, 100.3, 4, "Async: <Main>d__0").Wait(1, 100.4, 3, 4)
            .Step(5, 101.0, 2).Begin(5, 101.2, 6, "Async: <Leaf>d__2").Wait(5, 101.3, 5, 6).EndStep(5, 101.4).End(5, 101.5, 2).Notify(5, 101.6, 2).EndStep(5, 101.7)
            .Notify(5, 103.0, 5).Step(5, 103.1, 6).End(5, 103.2, 6).Notify(5, 103.3, 6).Join(5, 103.4, 3).End(5, 103.5, 3).Notify(5, 103.6, 3)
            .Step(5, 103.7, 4).End(5, 103.8, 4).EndStep(5, 103.9).EndStep(5, 104.0).EndStep(5, 104.1).EndStep(5, 104.2).EndStep(5, 104.3)
            .Stop(110);

        var continuation = Row(profile, "Task.ContinueWith(<Main>b__0_8)");
        Assert.True(continuation is { Calls: 1, StartedBefore: 0 }, Rows(profile));
        Assert.Equal(TimeSpan.FromMilliseconds(101.5 - 100.0), continuation.Wall);
        // Main awaits the leaf through the Unwrap promise; the continuation was made in Main's first step, which no event
        // brackets: nothing says whose it is.
        Assert.Equal("Main -> Leaf x1", Edges(profile));
    }

    [Fact]
    public void A_call_nobody_awaits_stays_under_the_method_that_created_it_after_that_method_completed()
    {
        // Parent, resumed: _ = Child(); then completes. Child completes later, with no continuation to run.
        var profile = new RecordedEvents()
            .Begin(1, 0.0, 1, "Async: <Parent>d__0")
            .Step(2, 1.0, 1).Begin(2, 1.1, 3, "Async: <Child>d__1").Wait(2, 1.2, 2, 3).End(2, 1.3, 1).EndStep(2, 1.4)
            .Step(3, 5.0, 3).End(3, 5.5, 3).EndStep(3, 5.6)
            .Stop(10);

        Assert.Equal("Parent -> Child x1", Edges(profile));
        Assert.Equal(TimeSpan.FromMilliseconds(5.5 - 1.1), Row(profile, "Child").Wall);
    }

    [Fact]
    public void Framework_calls_are_folded_into_the_user_method_above_them_and_the_rest_is_counted_apart()
    {
        // User awaits Read (the framework's), whose step takes 2 ms; Loop, the framework's, has no user method above it.
        var events = new RecordedEvents();
        events.Framework.UnionWith(["Read", "Loop"]);
        var profile = events
            .Begin(1, 0.0, 2, "Async: <Read>d__0").Wait(1, 0.1, 1, 2)
            .Begin(1, 0.2, 3, "Async: <User>d__0").Wait(1, 0.3, 2, 3)
            .Begin(1, 0.4, 4, "Async: <Loop>d__0")
            .Notify(2, 3.0, 1).Step(2, 3.1, 2).End(2, 5.1, 2).Notify(2, 5.2, 2).Step(2, 5.3, 3).End(2, 5.4, 3)
            .EndStep(2, 5.5).EndStep(2, 5.6).EndStep(2, 5.7).EndStep(2, 5.8)
            .Step(3, 6.0, 4).EndStep(3, 7.0)
            .Stop(10);

        Assert.Equal("User calls=1 pending=0", Rows(profile));
        Assert.Equal(TimeSpan.FromMilliseconds(2.0 + 0.1), Row(profile, "User").OnThread);
        // Awaiting the framework's method is the user method's own time (it is not a row).
        Assert.Equal(Row(profile, "User").Wall, Row(profile, "User").SelfWall);
        Assert.True(profile.Outside is { Calls: 0, Pending: 1, OnThread: 10_000 }, $"{profile.Outside.Calls} {profile.Outside.Pending} {profile.Outside.OnThread}");
    }

    [Fact]
    public void An_awaiter_the_events_never_announced_started_before_profiling()
    {
        // A method that started before profiling (its box was made earlier) awaits a call made now: from outside, it has no name.
        var profile = new RecordedEvents()
            .Begin(1, 1.0, 10, "Async: <Fetch>d__0").Wait(1, 1.1, 9, 10).Wait(1, 1.2, 10, 99)
            .Notify(2, 4.0, 9).Step(2, 4.1, 10).End(2, 4.2, 10).Notify(2, 4.3, 10).Step(2, 4.4, 99).EndStep(2, 4.5).EndStep(2, 4.6).EndStep(2, 4.7).EndStep(2, 4.8)
            .Stop(10);

        Assert.Equal("Fetch calls=1 pending=0", Rows(profile));
        // Still pending at the stop, timed from the profile's start: 10 ms at most, and apart from the rows.
        Assert.True(profile.Outside is { Pending: 1, StartedBefore: 1 }, $"{profile.Outside.Pending} {profile.Outside.StartedBefore}");
    }

    [Fact]
    public void A_continuation_run_inline_is_not_the_on_thread_time_of_the_step_it_ran_in()
    {
        // Outer's step completes a TaskCompletionSource; Inner, awaiting it, runs inline for 3 ms inside that step.
        var profile = new RecordedEvents()
            .Begin(1, 0.0, 1, "Async: <Inner>d__0").Wait(1, 0.1, 50, 1)
            .Begin(1, 0.2, 2, "Async: <Outer>d__0")
            .Step(2, 1.0, 2).Notify(2, 2.0, 50).Step(2, 2.0, 1).End(2, 5.0, 1).EndStep(2, 5.0).EndStep(2, 5.0).End(2, 6.0, 2).EndStep(2, 6.0)
            .Stop(10);

        Assert.Equal(TimeSpan.FromMilliseconds(3), Row(profile, "Inner").OnThread);
        Assert.Equal(TimeSpan.FromMilliseconds(2), Row(profile, "Outer").OnThread);
    }
}
