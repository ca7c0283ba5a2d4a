using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>The one place that decides where debug mode's steps come from, and what the async-events path keeps per thread.</summary>
public sealed class StepSourceTests
{
    [Theory]
    [InlineData(null, 11, "Tpl", "")]
    [InlineData("", 11, "Tpl", "")]
    [InlineData("tpl", 11, "Tpl", "")]
    [InlineData("async-events", 11, "AsyncEvents", "")]
    [InlineData("ASYNC-EVENTS", 12, "AsyncEvents", "")]
    [InlineData("async-events", 10, "Tpl", "asynclens: ASYNCLENS_STEP_SOURCE=async-events needs .NET 11 or later (this is .NET 10); using tpl\n")]
    [InlineData("async-events-only", 11, "AsyncEventsOnly", "")]
    [InlineData("async-events-only", 10, "Tpl", "asynclens: ASYNCLENS_STEP_SOURCE=async-events-only needs .NET 11 or later (this is .NET 10); using tpl\n")]
    [InlineData("events", 11, "Tpl", "asynclens: ASYNCLENS_STEP_SOURCE='events' is not tpl, async-events or async-events-only; using tpl\n")]
    public void The_TPL_events_unless_asked_for_the_async_events_on_a_runtime_that_has_them(string? setting, int runtime, string expected, string said)
    {
        var errors = new StringWriter { NewLine = "\n" };
        Assert.Equal(expected, StepSource.Choose(setting, runtime, errors).ToString());
        Assert.Equal(said, errors.ToString());
    }

    [Fact]
    public void Scheduler_figures_are_interpolated_between_the_samples_around_a_moment()
    {
        var history = new SchedHistory();
        Assert.Equal(SchedTimes.Unavailable, history.At(100));
        history.Add(100, new SchedTimes(1_000, 50, RunQueue.Unavailable));
        history.Add(200, new SchedTimes(1_080, 70, RunQueue.Unavailable));
        history.Add(300, new SchedTimes(1_100, 170, RunQueue.Unavailable));
        Assert.Equal(new SchedTimes(1_040, 60, RunQueue.Unavailable), history.At(150));
        Assert.Equal(new SchedTimes(1_090, 120, RunQueue.Unavailable), history.At(250));
        Assert.Equal(new SchedTimes(1_100, 170, RunQueue.Unavailable), history.At(300));
        Assert.Equal(SchedTimes.Unavailable, history.At(99));
        Assert.Equal((100L, new SchedTimes(1_000, 50, RunQueue.Unavailable)), history.Oldest());
        Assert.Equal(SchedTimes.Unavailable, history.At(301));
    }

    [Fact]
    public void Scheduler_samples_older_than_the_history_are_forgotten()
    {
        var history = new SchedHistory();
        for (var i = 0; i < SchedHistory.Size + 10; i++)
            history.Add(i * 10, new SchedTimes(i, i, RunQueue.Unavailable));
        Assert.Equal(SchedTimes.Unavailable, history.At(50));
        Assert.Equal(new SchedTimes(200, 200, RunQueue.Unavailable), history.At(2000));
    }

    [Fact]
    public void A_late_step_is_matched_to_the_park_or_completion_of_its_method_nearest_its_end()
    {
        var notes = new ParkNotes();
        // Two boxes parked for the test's length: released at its end (left parked, they were the test's leak).
        var release = new TaskCompletionSource();
        var mine = BoxOf(Parked(release.Task));
        var other = BoxOf(OtherParked(release.Task));
        var first = Record(1);
        var second = Record(2);
        notes.Add(100, 1, first, mine, 0, jit: 0);
        notes.Add(150, 9, null, other, 3, jit: 0);
        notes.Add(180, 2, second, mine, 1, jit: 0);
        notes.Add(400, 3, null, mine, AsyncState.Done, jit: 0);
        var found = notes.Nearest(mine.StateMachineType, 90, 200, 190, completed: false);
        Assert.NotNull(found);
        Assert.Equal((2, 1), (found.Value.TaskId, found.Value.State));
        Assert.Same(second, found.Value.Record);
        Assert.Equal(1, notes.Nearest(mine.StateMachineType, 90, 500, 110, completed: false)?.TaskId);
        Assert.Equal(3, notes.Nearest(mine.StateMachineType, 90, 500, 190, completed: true)?.TaskId);
        Assert.Null(notes.Nearest(mine.StateMachineType, 200, 300, 250, completed: false));
        Assert.Equal(9, notes.Nearest(other.StateMachineType, 0, 1000, 0, completed: false)?.TaskId);
        release.SetResult();
    }

    [Fact]
    public void A_steps_own_compiling_is_bounded_by_its_threads_notes_around_it()
    {
        // No event marks a step's start on its thread: what the thread compiled in it is read from the notes before it and
        // at its end (ShopApi's first /orders/1: Dapper's first query, 0.14-0.20 s compiled on the thread of a 0.15-0.22 s
        // step of GetOrderAsync; read from the whole process's, the step was taken to be computing).
        var notes = new ParkNotes();
        notes.Add(100, 1, null, null, 0, jit: 10);
        notes.Add(150, 2, null, null, 0, jit: 10);
        notes.Add(400, 3, null, null, AsyncState.Done, jit: 190); // the step's completion
        notes.Add(900, 4, null, null, 0, jit: 250); // later work of the thread's
        Assert.Equal(180, notes.JitWithin(200, 410));
        Assert.Equal(0, notes.JitWithin(160, 300)); // nothing compiled up to its last note
        Assert.Equal(-1, notes.JitWithin(50, 410)); // nothing noted before it: not known
        // Notes that compiled nothing since the one before do not push the compiling ones out (a pool thread running a
        // BackgroundService's loop before the step was judged, 1-2 s later).
        for (var i = 0; i < 100; i++)
            notes.Add(1000 + i, 5, null, null, 0, jit: 250);
        Assert.Equal(180, notes.JitWithin(200, 410));
    }

    [Fact]
    public void Only_the_reported_waits_inside_a_step_are_taken_off_it()
    {
        var notes = new ParkNotes();
        notes.AddApart(100, 200);
        notes.AddApart(450, 600);
        Assert.Equal(100 + 50, notes.ApartWithin(50, 500, requests: false));
        Assert.Equal(0, notes.ApartWithin(250, 400, requests: false));
    }

    [Fact]
    public void A_wait_inside_a_handlers_run_judged_apart_is_taken_off_a_step_once()
    {
        // Backoffice on the async events: OrderPlacedConsumer's run (a request stand-in), and its .Result wait inside it,
        // both reported on their own, inside the bus reader loop's step. Counted twice, the step's time went negative.
        var notes = new ParkNotes();
        notes.AddApart(300, 350); // the wait, closed first
        notes.AddApart(200, 400, request: true); // the handler's run around it
        notes.AddApart(380, 450);
        Assert.Equal(250, notes.ApartWithin(100, 500, requests: true));
        Assert.Equal(100, notes.ApartWithin(250, 350, requests: true));
        // A step of the app's own (an ASP.NET Core handler's, run inside the request's stand-in): only the waits.
        Assert.Equal(50 + 70, notes.ApartWithin(100, 500, requests: false));
    }

    [Fact]
    public void The_boxes_created_while_a_step_ran_come_oldest_first()
    {
        var notes = new ParkNotes();
        TaskRecord At(int id, long created) => new(id, TaskOrigin.AsyncMethod, created, 1, null, null);
        notes.AddCreated(At(1, 50));
        notes.AddCreated(At(2, 120));
        notes.AddCreated(At(3, 180));
        notes.AddCreated(At(4, 300));
        Assert.Equal([2, 3], notes.CreatedWithin(100, 200).Select(r => r.Id));
    }

    private static TaskRecord Record(int id) => new(id, TaskOrigin.AsyncMethod, 0, 1, null, null);

    private static BoxInfo BoxOf(Task task) => BoxInfo.Of(task) ?? throw new InvalidOperationException("not an async method box");

    private static async Task Parked(Task release) => await release;

    private static async Task OtherParked(Task release) => await release;
}
