using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Attribution;
using AsyncLens.Testing;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Attribution;

/// <summary>
/// Which code a slow stretch is blamed on, and which fix it gets, decided from recorded evidence (states, how the time
/// split, the boxes the stretch created, the endpoint it matched) over the IL and lines of <see cref="Samples"/>.
/// </summary>
public sealed class StretchLocatorTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "AsyncLens.Tests", "Attribution"));
    private static readonly TimeSplit OnCpu = new(3_000_000, 0);
    private static readonly TimeSplit Blocked = new(10_000, 3_000_000);

    [Fact]
    public void A_stretch_whose_branches_call_different_things_names_none_of_them()
    {
        var stretch = Locate(Evidence(nameof(Samples.ExportAsync), resumed: 0, stopped: -2, OnCpu));
        Assert.Null(stretch.Hint);
        Assert.Equal(Line("sample.export.resumed"), stretch.ResumedAt?.Line);
        Assert.Equal(Line("sample.export.end"), stretch.StoppedAt?.Line);
        Assert.Equal(FixHints.OnCpu, FixHints.Unnamed(OnCpu));
        Assert.Null(Locate(Evidence(nameof(Samples.ExportAsync), 0, -2, Blocked)).Hint);
        Assert.Equal(FixHints.Blocked, FixHints.Unnamed(Blocked));
        Assert.Null(Locate(Evidence(nameof(Samples.ExportAsync), 0, -2, TimeSplit.Unknown)).Hint);
        Assert.Equal(FixHints.Generic, FixHints.Unnamed(TimeSplit.Unknown));
    }

    [Fact]
    public void A_blocked_stretch_calling_several_methods_of_the_apps_went_to_the_one_whose_code_can_block()
    {
        // Resumed after CountAsync, parked at the Delay: IsOn ran, AuditAsync and SummaryAsync may have. Only AuditAsync's
        // code can block (File.ReadAllText); SummaryAsync's cannot, nor can IsOn's.
        var stretch = Locate(Evidence(nameof(Samples.PollAsync), resumed: 0, stopped: 3, Blocked));
        Assert.Equal("Samples.AuditAsync()", stretch.Code.Name);
        Assert.Equal(Found.Called, stretch.How);
        Assert.Equal(Line("sample.poll.audit"), LocationLine(stretch));
        Assert.Equal("`File.ReadAllText` blocks the thread: use `await File.ReadAllTextAsync(...)`", stretch.Hint!.Fix);
        Assert.Equal(Line("sample.poll.audit.call"), Assert.Single(stretch.Callers).CallLine?.Line);

        // On a CPU, any of the three could have taken the time: nothing is named.
        Assert.Null(Locate(Evidence(nameof(Samples.PollAsync), 0, 3, OnCpu)).Hint);

        // Two methods whose code can block, in different branches: neither is named, nor the check that cannot block.
        var either = Locate(Evidence(nameof(Samples.PollTwiceAsync), 0, 4, Blocked));
        Assert.Equal("Samples.PollTwiceAsync(int)", either.Code.Name);
        Assert.Null(either.Hint);
    }

    [Fact]
    public void A_computing_stretch_whose_only_computing_code_is_a_loop_in_one_branch_ran_that_loop()
    {
        var stretch = Locate(Evidence(nameof(Samples.HashOrCachedAsync), resumed: 0, stopped: -2, OnCpu));
        Assert.Equal(Line("sample.hashloop.call"), LocationLine(stretch));
        Assert.Equal(HintKind.CpuBound, stretch.Hint!.Kind);
        // Blocked, nothing in it could have held the thread that way: nothing is named.
        Assert.Null(Locate(Evidence(nameof(Samples.HashOrCachedAsync), 0, -2, Blocked)).Hint);
    }

    [Fact]
    public void A_blocking_call_on_every_path_is_named_whatever_the_branches_after_it()
    {
        var stretch = Locate(Evidence(nameof(Samples.LoadThenBranchAsync), 0, -2, Blocked));
        Assert.Equal(Line("sample.load.read"), LocationLine(stretch));
        Assert.Equal("`File.ReadAllText` blocks the thread: use `await File.ReadAllTextAsync(...)`", stretch.Hint!.Fix);
    }

    [Fact]
    public void A_stretch_looping_back_to_its_await_runs_the_loop_only_and_its_time_went_to_the_async_method_called_there()
    {
        // Resumed at the await in the loop and parked there again: the await before the loop cannot have run.
        var visits = new FirstStep(Record(21), Machine(nameof(Samples.CountVisitsAsync)), State: 1, GapTicks: 2_900_000);
        var stretch = Locate(Evidence(nameof(Samples.CountLoopAsync), resumed: 1, stopped: 1, Blocked) with { FirstSteps = [visits] });
        Assert.Equal("Samples.CountVisitsAsync()", stretch.Code.Name);
        Assert.Equal(Found.Called, stretch.How);
        Assert.True(stretch.FirstStep);
        Assert.Equal(21, stretch.TaskId);
        Assert.Equal(Line("sample.visits.read"), LocationLine(stretch));
        Assert.Equal(Line("sample.visits.start"), stretch.ResumedAt?.Line);
        Assert.Equal(Line("sample.visits.stopped"), stretch.StoppedAt?.Line);
        Assert.Equal(Line("sample.loop.await"), Assert.Single(stretch.Callers).CallLine?.Line);

        // Without its box (it ran to its end), the IL alone leads there too.
        var whole = Locate(Evidence(nameof(Samples.CountLoopAsync), 1, 1, Blocked));
        Assert.Equal("Samples.CountVisitsAsync()", whole.Code.Name);
        Assert.Equal(Line("sample.visits.read"), LocationLine(whole));
        Assert.Equal(0, whole.TaskId);
    }

    [Fact]
    public void A_box_created_after_a_gap_holding_most_of_the_step_is_where_its_time_went()
    {
        // The step's own code names nothing (its branches); the box of CountVisitsAsync came 0.29 s into a 0.3 s step,
        // parked at its second await: its first step ran the blocking read.
        var visits = new FirstStep(Record(31), Machine(nameof(Samples.CountVisitsAsync)), State: 1, GapTicks: 2_900_000);
        var step = Evidence(nameof(Samples.ExportAsync), 0, -2, Blocked) with { FirstSteps = [visits] };
        var stretch = Locate(step);
        Assert.Equal(Found.AfterGap, stretch.How);
        Assert.Equal(31, stretch.TaskId);
        Assert.Equal(Line("sample.visits.read"), LocationLine(stretch));
        Assert.Null(Assert.Single(stretch.Callers).CallLine);

        // A short gap is no evidence; in a stretch no step brackets (Main's first step), only a blocking call would be.
        Assert.Null(Locate(step with { FirstSteps = [visits with { GapTicks = 500_000 }] }).Hint);
        Assert.Null(StretchLocator.Locate(step with { Unbracketed = true }));
    }

    [Theory]
    [InlineData("cpu", "sample.spin.loop", "Loop")]
    [InlineData("blocked", "sample.spin.read", "AsyncTwin")]
    [InlineData("unknown", "sample.spin.read", "AsyncTwin")]
    public void The_time_decides_between_a_call_with_an_async_twin_and_a_loop_of_the_methods_own(string time, string expected, string kind)
    {
        var split = time switch { "cpu" => OnCpu, "blocked" => Blocked, _ => TimeSplit.Unknown };
        var stretch = Locate(Evidence(nameof(Samples.ParseThenSpinAsync), 0, -2, split));
        Assert.Equal(Line(expected), LocationLine(stretch));
        Assert.Equal(kind, stretch.Hint!.Kind.ToString());
        if (stretch.Hint.Kind == HintKind.Loop)
            Assert.Equal(FixHints.Loop, stretch.Hint.Fix);
    }

    [Fact]
    public void Hashing_bytes_in_a_loop_is_computing_and_gets_Task_Run()
    {
        var stretch = Locate(Evidence(nameof(Samples.HashAsync), -1, -2, OnCpu));
        Assert.Equal(Line("sample.hash.cpu"), LocationLine(stretch));
        Assert.Equal(HintKind.CpuBound, stretch.Hint!.Kind);
        Assert.Equal(
            "`SHA256.HashData` computes over data already in memory (its async twin `SHA256.HashDataAsync` reads a stream): CPU-bound work; "
            + "move it off the async path with `await Task.Run(() => ...)`",
            stretch.Hint.Fix);
    }

    [Fact]
    public void A_Result_blocks_only_if_a_synchronous_wait_was_seen()
    {
        var waited = Locate(Evidence(nameof(Samples.ResultAsync), 0, -2, Blocked) with { Waited = true });
        Assert.Equal(Line("sample.result.wait"), LocationLine(waited));
        Assert.Equal(HintKind.Blocking, waited.Hint!.Kind);

        // The task had completed: the one method of the user's the stretch called is left, and named where the time
        // went to a CPU; the time says blocked and it cannot block (it builds a string): nothing is named.
        var computed = Locate(Evidence(nameof(Samples.ResultAsync), 0, -2, OnCpu));
        Assert.Equal(HintKind.UserCall, computed.Hint!.Kind);
        Assert.Equal("Samples.RenderCsv(int)", computed.Hint.Callee);
        Assert.Null(Locate(Evidence(nameof(Samples.ResultAsync), 0, -2, Blocked)).Hint);
    }

    [Fact]
    public void A_Result_whose_waits_took_a_small_part_of_the_stretch_did_not_block_it()
    {
        // 0.3 s blocked: its synchronous waits took 15 ms (a gRPC handler's lookup), the sleep after it the rest.
        var shortWait = Locate(Evidence(nameof(Samples.LookupThenSleepAsync), 0, -2, Blocked) with { Waited = true, ShortWaitTicks = TimeSpan.FromMilliseconds(15).Ticks });
        Assert.Equal(Line("sample.audit.sleep"), LocationLine(shortWait));
        Assert.Equal("`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`", shortWait.Hint!.Fix);

        // Waits that took half the stretch or more may have held it: the first blocking call that ran, the wait.
        var longWait = Locate(Evidence(nameof(Samples.LookupThenSleepAsync), 0, -2, Blocked) with { Waited = true, ShortWaitTicks = TimeSpan.FromMilliseconds(150).Ticks });
        Assert.Equal(Line("sample.audit.wait"), LocationLine(longWait));
        // Not measured (the async events' steps): as before, the wait counts.
        Assert.Equal(Line("sample.audit.wait"), LocationLine(Locate(Evidence(nameof(Samples.LookupThenSleepAsync), 0, -2, Blocked) with { Waited = true })));
    }

    [Fact]
    public void A_call_after_one_that_may_have_thrown_ran_only_if_nothing_was_thrown()
    {
        var clean = Locate(Evidence(nameof(Samples.GuardedAsync), 0, -2, Blocked));
        Assert.Equal(Line("sample.guarded.sleep"), LocationLine(clean));
        Assert.Null(Locate(Evidence(nameof(Samples.GuardedAsync), 0, -2, Blocked) with { Threw = true }).Hint);
    }

    [Fact]
    public void A_sleep_in_a_branch_is_named_when_the_time_says_it_ran_or_while_the_step_still_runs()
    {
        // Blocked for the stretch, with nothing else in it that blocks: the sleep ran. Computing, or not known: it may not have.
        Assert.Equal(Line("sample.maybe.sleep"), LocationLine(Locate(Evidence(nameof(Samples.MaybeSleepAsync), 0, -2, Blocked))));
        Assert.Null(Locate(Evidence(nameof(Samples.MaybeSleepAsync), 0, -2, OnCpu)).Hint);
        Assert.Null(Locate(Evidence(nameof(Samples.MaybeSleepAsync), 0, -2, TimeSplit.Unknown)).Hint);
        var hung = Locate(Evidence(nameof(Samples.MaybeSleepAsync), 0, -1, Blocked) with { Ongoing = true });
        Assert.Equal(Line("sample.maybe.sleep"), LocationLine(hung));
        Assert.Null(hung.StoppedAt);
    }

    [Fact]
    public void A_request_stretch_with_no_box_of_the_users_is_blamed_on_the_handler_whose_endpoint_matched()
    {
        var handler = Kickoff(nameof(Samples.HashAsync));
        var request = new StretchEvidence(null, -1, AsyncLens.Runtime.Layout.AsyncState.Unknown, 0.3, Ongoing: false)
        {
            Unbracketed = true,
            Time = OnCpu,
            Handler = new HandlerRun(handler, 2_900_000),
        };
        var stretch = Locate(request);
        Assert.Equal("Samples.HashAsync(byte[])", stretch.Code.Name);
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Equal(0, stretch.TaskId);
        Assert.Equal(Line("sample.hash.cpu"), LocationLine(stretch));
        Assert.Equal(Line("sample.hash.start"), stretch.ResumedAt?.Line);
        Assert.Equal(Line("sample.hash.end"), stretch.StoppedAt?.Line);

        // Not where its code does not tell which call (a busy machine slows handlers down too), nor while the process
        // warms up (then only for a blocking call), nor when the handler held less than half the stretch.
        Assert.Null(StretchLocator.Locate(request with { Time = TimeSplit.Unknown }));
        Assert.Null(StretchLocator.Locate(request with { WarmUp = true }));
        Assert.Null(StretchLocator.Locate(request with { Handler = new HandlerRun(handler, 1_000_000) }));
    }

    [Fact]
    public void A_handler_of_the_apps_computing_where_its_code_names_no_one_call_is_reported_from_its_start()
    {
        // A FastEndpoints endpoint class's HandleAsync, run by FastEndpoints' own request delegate: a method of the app's
        // and a package's could each have computed, so no call is named; the handler held the stretch on a CPU. Was not
        // reported at all (Ledger's StatementExport, 0.2 s; a stranger's manifest checksum, 1-2 s).
        var request = new StretchEvidence(null, -1, AsyncLens.Runtime.Layout.AsyncState.Unknown, 0.2, Ongoing: false)
        {
            Unbracketed = true,
            Time = OnCpu,
            Handler = new HandlerRun(Kickoff(nameof(Samples.ExportStatementAsync)), 1_900_000),
        };
        var stretch = Locate(request);
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Null(stretch.Hint);
        Assert.Equal(Line("sample.statement.start"), stretch.ResumedAt?.Line);
        Assert.Equal(Line("sample.statement.end"), stretch.StoppedAt?.Line);

        // Not while the process warms up (the package's first run may be the time), nor where the time does not say
        // the thread computed, nor when the handler held less than half of it.
        Assert.Null(StretchLocator.Locate(request with { WarmUp = true }));
        Assert.Null(StretchLocator.Locate(request with { Time = TimeSplit.Unknown }));
        Assert.Null(StretchLocator.Locate(request with { Handler = new HandlerRun(Kickoff(nameof(Samples.ExportStatementAsync)), 900_000) }));
    }

    [Fact]
    public void A_handler_computing_in_a_method_of_the_apps_before_awaiting_a_packages_async_API_is_named_at_that_call()
    {
        // A minimal-API lambda rendering a label (a 1.5 M-round hashing loop of the app's), then awaiting Marten's
        // LoadAsync, which parked in Npgsql: the request stretch, 0.8-1.1 s on a CPU in a 2 s handler, judged when the
        // park made its first box (Npgsql's, naming nothing). Was not reported: the package's async API was a second
        // candidate beside the app's method.
        var package = typeof(StreamReader).GetNestedTypes(BindingFlags.NonPublic).First(t => typeof(IAsyncStateMachine).IsAssignableFrom(t));
        var request = new StretchEvidence(package, -1, 0, 0.8, Ongoing: false)
        {
            Unbracketed = true,
            TaskId = 61,
            Time = OnCpu,
            FirstSteps = [new FirstStep(Record(61), package, State: 0, GapTicks: 21_000_000)],
            Handler = new HandlerRun(Samples.LabelHandler.Method, 21_000_000),
        };
        var stretch = Locate(request);
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Equal(Line("sample.label.render"), LocationLine(stretch));
        Assert.Equal(Line("sample.label.start"), stretch.ResumedAt?.Line);
        Assert.Equal("`Samples.RenderLabel(Guid)` runs on the async path for the whole stretch: if it is CPU-bound, move it off with `await Task.Run(() => ...)`; if it does I/O, call its async API", stretch.Hint!.Fix);

        // While the process warms up, the package's first run may have held the thread: not named then (a blocking call would be).
        Assert.Null(StretchLocator.Locate(request with { WarmUp = true }));
    }

    [Fact]
    public void A_request_whose_handler_blocked_in_a_synchronous_API_with_an_async_twin_is_reported_while_the_process_warms_up()
    {
        // The app's first request: a handler's sync I/O (as EF Core's db.Database.ExecuteSqlRaw: 0.3 s blocked in a 1.9 s
        // first request) is the handler's own cause even while the process compiles its code for the first time.
        var request = new StretchEvidence(null, -1, AsyncLens.Runtime.Layout.AsyncState.Unknown, 0.3, Ongoing: false)
        {
            Unbracketed = true,
            Time = Blocked,
            Handler = new HandlerRun(Kickoff(nameof(Samples.SyncReadHandler)), 2_900_000),
            WarmUp = true,
        };
        var stretch = Locate(request);
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Equal(Line("sample.handler.read"), LocationLine(stretch));
        Assert.Contains("`File.ReadAllText` blocks the thread: use `await File.ReadAllTextAsync(...)`", stretch.Hint!.Fix);
    }

    [Theory]
    [InlineData(nameof(Samples.QueryHandler), "sample.handler.query", "`Enumerable.ToList` runs the query on this thread, blocking it: use `await ShelfQueries.ToListAsync(...)`")]
    [InlineData(nameof(Samples.CountHandler), "sample.handler.count", "`Queryable.Count` runs the query on this thread, blocking it: use `await ShelfQueries.CountAsync(...)`")]
    public void A_handler_blocked_in_a_LINQ_operator_running_a_query_is_told_the_query_providers_async_operator(string handler, string line, string fix)
    {
        // EF Core: `db.Items.FromSqlRaw(...).ToList()` in a synchronous handler, 0.3 s blocked on the database; the
        // operator's twin is not on its own type but EF Core's extension of IQueryable (was: no hint, no report).
        var request = new StretchEvidence(null, -1, AsyncLens.Runtime.Layout.AsyncState.Unknown, 0.3, Ongoing: false)
        {
            Unbracketed = true,
            Time = Blocked,
            Handler = new HandlerRun(Kickoff(handler), 2_900_000),
        };
        var stretch = Locate(request);
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Equal(Line(line), LocationLine(stretch));
        Assert.Equal(fix, stretch.Hint!.Fix);

        // The same operators over a list in memory run no query: nothing to await, and nothing in the code to name.
        Assert.Null(StretchLocator.Locate(request with { Handler = new HandlerRun(Kickoff(nameof(Samples.ListHandler)), 2_900_000) }));
    }

    [Fact]
    public void A_streaming_handler_whose_writes_completed_at_once_is_named_at_its_computing_loop()
    {
        // A gRPC server-streaming method run inline in its HTTP/2 stream's work item (no step brackets it): three rounds
        // of a 150-250 ms loop, its writes completing at once, 0.55 s on a CPU in all (was not reported).
        var request = new StretchEvidence(null, -1, AsyncLens.Runtime.Layout.AsyncState.Unknown, 0.55, Ongoing: false)
        {
            Unbracketed = true,
            Time = OnCpu,
            Handler = new HandlerRun(Kickoff(nameof(Samples.StreamChecksumsAsync)), 5_500_000),
        };
        var stretch = Locate(request);
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Equal(HintKind.Loop, stretch.Hint!.Kind);
        Assert.Equal(Line("sample.stream.loop"), LocationLine(stretch));
    }

    [Fact]
    public void A_stretch_compiling_much_and_blocked_half_its_own_time_names_the_blocking_call_that_ran()
    {
        // EF Core's first query on a loaded machine (DbWorker ef-sync): its async count completed at once, so one stretch
        // ran the whole method, compiling and building EF Core's model on a CPU (0.65 s, counted in the split), then
        // blocked 0.3 s in the synchronous ToList; its own time, compilation off, 0.41 s.
        var warming = new StretchEvidence(Machine(nameof(Samples.ShelfReportAsync)), -1, AsyncLens.Runtime.Layout.AsyncState.Done, 0.41, Ongoing: false)
        {
            Time = new TimeSplit(OnCpu: 6_500_000, Blocked: 3_000_000),
            WarmUp = true,
            TaskId = 11,
        };
        var stretch = Locate(warming);
        Assert.Equal(Line("sample.report.query"), LocationLine(stretch));
        Assert.Equal("`Enumerable.ToList` runs the query on this thread, blocking it: use `await ShelfQueries.ToListAsync(...)`", stretch.Hint!.Fix);

        // Blocked for less than half its own time: the time went to computing, in no call the code names.
        Assert.Null(StretchLocator.Locate(warming with { Time = new TimeSplit(OnCpu: 6_500_000, Blocked: 1_500_000) }));
        Assert.Null(Locate(warming with { Time = new TimeSplit(OnCpu: 6_500_000, Blocked: 1_500_000), WarmUp = false }).Hint);
    }

    [Fact]
    public void A_loop_whose_calls_completed_at_once_is_blamed_on_their_whole_code_not_on_the_last_calls_first_await()
    {
        // DbWorker count-sync under three CPU burners (1 run in 60, Debug and Release): the poller's stretch resumed
        // before its loop; two calls of the count completed at once (no box), each blocking 0.3 s in its query; the third
        // parked at its first await (a box). The stretch was judged on that box's first step, from its start to that
        // await, which names nothing: while the process warms up, no report at all.
        var last = new FirstStep(Record(21), Machine(nameof(Samples.CountRowsAsync)), State: 0, GapTicks: 130_000);
        var warming = Evidence(nameof(Samples.CountRowsLoopAsync), resumed: 0, stopped: 1, Blocked) with { FirstSteps = [last], WarmUp = true };
        var stretch = Locate(warming);
        Assert.Equal("Samples.CountRowsAsync()", stretch.Code.Name);
        Assert.Equal(0, stretch.TaskId); // the calls that took the time left no task
        Assert.Equal(Line("sample.rows.read"), LocationLine(stretch));
        Assert.Equal("`File.ReadAllText` blocks the thread: use `await File.ReadAllTextAsync(...)`", stretch.Hint!.Fix);
        Assert.Equal(Line("sample.rows.start"), stretch.ResumedAt?.Line);
        Assert.Equal(Line("sample.rows.end"), stretch.StoppedAt?.Line);
        Assert.Equal(Line("sample.rows.call"), Assert.Single(stretch.Callers).CallLine?.Line);

        // The time not telling how the thread was held: nothing says the earlier calls took it.
        Assert.Null(StretchLocator.Locate(warming with { Time = TimeSplit.Unknown }));

        // Called once (no loop): the box is the only call's, and its first step, which names nothing, is all it ran.
        var once = Evidence(nameof(Samples.RunOneOfManyAsync), resumed: 0, stopped: 3, Blocked) with { FirstSteps = [last], WarmUp = true };
        Assert.Null(StretchLocator.Locate(once));
    }

    [Fact]
    public void A_helper_the_compiler_generated_is_never_named_as_a_call_of_the_apps()
    {
        // Main's switch over DbWorker's nine scenarios hashes the string first, on every path: a call to
        // <PrivateImplementationDetails>.ComputeStringHash, in the app's own assembly. A 0.26 s stretch of Main's (the
        // split not telling) was reported with "`<PrivateImplementationDetails>.ComputeStringHash(string)` runs on the async
        // path for the whole stretch" (DbWorker count-sync, under three CPU burners). The branch that ran is known from the
        // box it created; the time went to that method's first step.
        var rows = new FirstStep(Record(21), Machine(nameof(Samples.CountRowsAsync)), State: 1, GapTicks: 2_900_000);
        var stretch = Locate(Evidence(nameof(Samples.RunOneOfManyAsync), resumed: 0, stopped: 3, TimeSplit.Unknown) with { FirstSteps = [rows] });
        Assert.Equal("Samples.CountRowsAsync()", stretch.Code.Name);
        Assert.Equal(Found.Called, stretch.How);
        Assert.Equal(Line("sample.rows.read"), LocationLine(stretch));
        Assert.Equal(Line("sample.many.count"), Assert.Single(stretch.Callers).CallLine?.Line);
    }

    private static Stretch Locate(StretchEvidence evidence) => StretchLocator.Locate(evidence) ?? throw new Xunit.Sdk.XunitException("no stretch located");

    [Fact]
    public void A_framework_step_that_ran_nothing_of_the_users_is_not_reported()
    {
        // A BCL async method's step (the framework's own code), with no box, handler or call of the user's in it.
        var framework = typeof(SemaphoreSlim).GetMethod("WaitUntilCountOrTimeoutAsync", BindingFlags.Instance | BindingFlags.NonPublic)!
            .GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType;
        Assert.Null(StretchLocator.Locate(new StretchEvidence(framework, 0, -2, 0.164, Ongoing: false) { Time = OnCpu, TaskId = 11 }));
    }

    private static StretchEvidence Evidence(string method, int resumed, int stopped, TimeSplit time) =>
        new(Machine(method), resumed, stopped, 0.3, Ongoing: false) { Time = time, TaskId = 11 };

    private static TaskRecord Record(int id) => new(id, TaskOrigin.AsyncMethod, 0, 1, null, null);

    internal static Type Machine(string method) => Kickoff(method).GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType;

    internal static MethodInfo Kickoff(string method) =>
        typeof(Samples).GetMethod(method, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)!;

    private static int? LocationLine(Stretch stretch) => stretch.Hint is { } hint ? stretch.Code.LineAt(hint.Offset)?.Line : null;

    internal static int Line(string tag) => s_at.Line(tag);
}
