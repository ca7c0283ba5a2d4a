using AsyncLens.Cli.Agent;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens top</c>'s frame from recorded agent answers, in process: columns cut to the width (the method first),
/// the sort keys, the filter, the selection kept by task id, the rows that fit the height, the warnings panel.
/// </summary>
public sealed class TopScreenTests
{
    private const string Ps = """
        {"version":1,"kind":"result","id":1,"command":"ps","exit":0,"text":"","result":{"pid":42,"timestamp":"2026-12-05T10:16:33.120Z","tasks":[
        {"id":3,"kind":"async-method","method":"Service.PollAsync(CancellationToken)","state":"parked","parkedAt":{"file":"/src/Service.cs","line":27},"ageSeconds":14.2},
        {"id":8,"kind":"async-method","method":"Service.CrunchAsync(Task)","state":"parked","parkedAt":{"file":"/src/Service.cs","line":73},"ageSeconds":3.5},
        {"id":29,"kind":"combinator","method":"Task.WhenAll (2 pending)","state":"pending","ageSeconds":null}],
        "busy":[{"id":3,"busySeconds":0,"steps":0},{"id":8,"busySeconds":0.2381,"steps":20}],"requests":[]}}
        """;

    private const string StarvedPool = """
        {"version":1,"kind":"result","command":"pool","exit":0,"text":"asynclens: the thread pool\n\nworkers: 2\npool-starvation: 2 of 2 pool threads blocked; 1 work item queued\n","result":{"starved":true}}
        """;

    private static TopScreen Screen(bool debugMode = true, string? pool = null, int limit = 10) =>
        new("Jobs", 42, debugMode, TimeSpan.FromSeconds(limit), TimeSpan.FromSeconds(10)) { Snapshot = TopSnapshot.Parse(Ps.Replace("\n", ""), pool) };

    [Fact]
    public void A_narrow_terminal_cuts_the_method_first_and_every_line_to_the_width()
    {
        var frame = Screen().Render(60, 12, TopScreen.Keys);
        Assert.Equal(
        [
            "Jobs (pid 42): 3 pending tasks, 10:16:33 UTC, sort: age",
            "q quit  s sort  / filter  up/down select  Enter where  c ca…",
            // STEPS does not fit: it goes, and the file gets its room back.
            "ID  STATE    METHOD            PARKED AT      AGE    BUSY",
            "3   parked   …ce.PollAsync(…)  Service.cs:27  14 s   0.000 s",
        ], frame.Lines.Take(4));
    }

    [Fact]
    public void Sorts_filters_and_keeps_the_selected_task_by_id()
    {
        var screen = Screen();
        Assert.Equal([3L, 8, 29], screen.Visible().Select(t => t.Id));
        screen.Move(1);
        Assert.Equal(8, screen.Selected!.Id);
        screen.NextSort();
        Assert.Equal("busy", screen.SortKey);
        Assert.Equal([8L, 3, 29], screen.Visible().Select(t => t.Id));
        var frame = screen.Render(120, 20, null);
        Assert.StartsWith("8 ", frame.Lines[frame.Highlight], StringComparison.Ordinal);
        screen.NextSort();
        Assert.Equal([8L, 3, 29], screen.Visible().Select(t => t.Id));
        screen.Filter = "service.cs:2";
        Assert.Equal([3L], screen.Visible().Select(t => t.Id));
        Assert.Equal("filter 'service.cs:2': 1 shown, Esc clears it;  " + TopScreen.Keys, screen.Status());
    }

    [Fact]
    public void The_warnings_panel_has_the_tasks_past_the_limit_and_the_pools_starvation()
    {
        var frame = Screen(pool: StarvedPool.Replace("\n", "")).Render(120, 10, null);
        Assert.Equal(10, frame.Lines.Count);
        Assert.Equal(
            ["warnings:", "  1 pending past 10 s; oldest 14 s: 3 Service.PollAsync(CancellationToken)", "  pool-starvation: 2 of 2 pool threads blocked; 1 work item queued"],
            frame.Lines.TakeLast(3));
        Assert.Equal(["warnings: none (pending past 60 s, hung steps, pool starvation, requests past 10 s)"], Screen(limit: 60).Warnings());
        Assert.Equal("  pending past 10 s, hung steps: need debug mode (asynclens run --console)", Screen(debugMode: false).Warnings()[1]);
    }

    private const string Threads = """
        {"version":1,"kind":"result","command":"threads","exit":0,"text":"","result":{"pid":42,"debugMode":true,"threads":[
        {"osId":42,"id":1,"name":"dotnet","state":"waiting","main":true,"pool":false},
        {"osId":50,"id":7,"name":".NET TP Worker","state":"running","main":false,"pool":true,"runs":"a step of `Reports.SpinAsync(int)` (task 57)",
         "step":{"taskId":57,"method":"Reports.SpinAsync(int)","resumedAt":{"file":"/src/Reports.cs","line":26},"runningSeconds":2.41,"hung":true}},
        {"osId":51,"id":8,"name":".NET TP Worker","state":"running","main":false,"pool":true,"runs":"`Worker.Run()` (task 60)",
         "step":{"taskId":60,"method":"Worker.Run()","resumedAt":null,"runningSeconds":0.02,"hung":false}}]}}
        """;

    private const string Requests = """
        {"version":1,"kind":"result","command":"requests","exit":0,"text":"","result":{"pid":42,"aspNetCore":true,"requests":[
        {"number":3,"method":"GET","path":"/bug/spin/4000","route":"/bug/spin/{ms:int}","ageSeconds":2.4,"roots":[],"tasks":[]},
        {"number":2,"method":"GET","path":"/park/product/7","route":"/park/product/{id:int}","ageSeconds":12.52,"roots":[],"tasks":[]},
        {"number":4,"method":"GET","path":"/health","ageSeconds":0.01,"roots":[],"tasks":[]}]}}
        """;

    [Fact]
    public void The_warnings_panel_has_the_hung_steps_threads_reports_and_the_requests_past_their_limit()
    {
        var screen = new TopScreen("Shop", 42, true, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(2))
        {
            Snapshot = TopSnapshot.Parse(Ps.Replace("\n", ""), null) with
            {
                HungSteps = TopSnapshot.Hung(Threads.Replace("\n", "")), Requests = TopSnapshot.InFlight(Requests.Replace("\n", "")),
            },
        };
        Assert.Equal(
            [
                "warnings:",
                "  hung step: Reports.SpinAsync(int) running 2.4 s since Reports.cs:26 (task 57, thread 7)",
                "  2 requests past 2.0 s; oldest 13 s: GET /park/product/7 (route /park/product/{id:int})",
            ],
            screen.Warnings());
        // An agent's error answer (or none) is no warning.
        Assert.Empty(TopSnapshot.Hung("""{"version":1,"kind":"error","command":"threads","exit":2,"error":"bad"}"""));
        Assert.Empty(TopSnapshot.InFlight(null));
    }

    [Fact]
    public void Rows_that_do_not_fit_scroll_with_the_selection()
    {
        var screen = Screen(limit: 60);
        // Header, table header, one row, and the one-line panel: 4 lines leave room for one task.
        Assert.Equal(["3"], RowIds(screen.Render(80, 4, null)));
        screen.Move(2);
        Assert.Equal(["29"], RowIds(screen.Render(80, 4, null)));
    }

    private const string Terminated = """
        {"version":1,"kind":"result","command":"ps-terminated","exit":0,"text":"","result":{"kept":1000,"total":3,"tasks":[
        {"id":21,"method":"Service.BillAsync(Task)","how":"ran to completion","exception":null,"lastParkedAt":{"file":"/src/Service.cs","line":83},"ended":"2026-12-05T10:16:31.120Z","lived":13.2,"createdAt":null,"stack":[]},
        {"id":19,"method":"Service.ChargeAsync(Task)","how":"faulted","exception":"InvalidOperationException: card declined","lastParkedAt":{"file":"/src/Service.cs","line":93},"ended":"2026-12-05T10:16:30.900Z","lived":13.0,"createdAt":null,"stack":[]},
        {"id":4,"method":"HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)","how":"cancelled by a timeout","exception":null,"lastParkedAt":null,"ended":"2026-12-05T10:16:20.000Z","lived":null,"createdAt":null,"stack":[]}]}}
        """;

    [Fact]
    public void The_view_of_ended_tasks_has_ps_terminateds_columns_newest_first_filtered_and_selected_by_id()
    {
        var screen = Screen(limit: 60);
        screen.Snapshot = screen.Snapshot! with { Ended = TopHistory.Parse(Terminated.Replace("\n", "")) };
        screen.Move(1);
        Assert.Equal(8, screen.Selected!.Id);
        screen.ShowEnded = true;
        Assert.Equal(
        [
            "Jobs (pid 42): 3 ended async methods (of 3; the last 1000 kept), 10:16:33 UTC",
            TopScreen.EndedKeys,
            "ID  HOW                     METHOD                        LAST PARKED AT  LIVED  ENDED",
            "21  ran to completion       Service.BillAsync(Task)       Service.cs:83   13 s   2.0 s ago",
            "19  faulted                 Service.ChargeAsync(Task)     Service.cs:93   13 s   2.2 s ago",
            // A long name collapses its parameters, then loses its head: the method's own name stays.
            "4   cancelled by a timeout  …lient.GetStringAsyncCore(…)  -               -      13 s ago",
            "",
            "warnings: none (pending past 60 s, hung steps, pool starvation, requests past 10 s)",
        ], screen.Render(90, 8, TopScreen.EndedKeys).Lines);
        screen.Move(1);
        Assert.Equal(19, screen.SelectedEnded!.Id);
        screen.Filter = "service.cs:9";
        Assert.Equal([19L], screen.VisibleEnded().Select(t => t.Id));
        // The pending view keeps its own selection.
        screen.ShowEnded = false;
        Assert.Equal(8, screen.Selected!.Id);
        // The history switched off: the agent's reason instead of the table.
        screen.Snapshot = screen.Snapshot with { Ended = TopHistory.Parse("""{"version":1,"kind":"error","command":"ps-terminated","exit":1,"error":"the history of ended tasks is off"}""") };
        screen.ShowEnded = true;
        Assert.Equal("asynclens: the history of ended tasks is off", screen.Render(90, null, null).Lines[1]);
    }

    private static IEnumerable<string> RowIds(TopFrame frame) => frame.Lines.Skip(2).SkipLast(1).Select(l => l.Split(' ')[0]);
}
