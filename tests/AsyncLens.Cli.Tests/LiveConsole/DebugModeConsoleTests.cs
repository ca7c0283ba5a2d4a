using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens run --console -- app</c>: debug mode and the console together, so <c>ps</c> has ages (and sorts by
/// them) and <c>where</c> gives the creation chain: where the task, and each task above it, was created.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed partial class DebugModeConsoleTests
{
    private static string At(string tag) => ConsoleTests.At(tag);

    [Fact]
    public void Ps_sort_busy_puts_first_the_task_whose_steps_held_a_thread_longest()
    {
        using var app = new ConsoledApp(["crunch"], viaRun: true);
        var ps = app.Console("ps", "--sort", "busy");
        Assert.True(ps.ExitCode == 0, ps.ToString());
        var rows = ps.Stdout.TrimEnd('\n').Split('\n')[2..].Select(l => Regex.Split(l, " {2,}")).ToList();
        Assert.Equal(["ID", "STATE", "METHOD", "PARKED AT", "AGE", "AWAITING", "AWAITED BY", "ROOT", "BUSY", "STEPS"], rows[0]);
        // 20 steps of 10 ms of spinning each (wall time on a thread: at least that, more on a busy machine).
        var crunch = rows[1];
        Assert.Equal(["parked", "Service.CrunchAsync(Task)", $"Service.cs:{ConsoleTests.Markers.Line("jobs.crunch.park")}"], crunch[1..4]);
        Assert.Equal("20", crunch[9]);
        Assert.True(double.Parse(crunch[8][..^2], System.Globalization.CultureInfo.InvariantCulture) >= 0.2, crunch[8]);
        // The others never resumed: a first step (up to the first await) runs inside its caller's and is counted there.
        Assert.All(rows[2..].Where(r => r[1] == "parked"), r => Assert.Equal(["0.000 s", "0"], r[8..]));
        Assert.Equal(0, app.Release());
    }

    [Fact]
    public void Where_gives_where_each_task_of_the_chain_was_created()
    {
        using var app = new ConsoledApp(viaRun: true);
        var id = ConsoleTests.Ids(app);
        var where = app.Console("where", id["Service.PollAsync(CancellationToken)"]);
        Assert.True(where.ExitCode == 0, where.ToString());
        var text = Ago().Replace(where.Stdout, ", N s ago");
        Assert.Equal(
            $"""
            task {id["Service.PollAsync(CancellationToken)"]}: Service.PollAsync(CancellationToken), parked at {At("jobs.poll")}
            async stack (root first):
                Program.Main(string[]) at {At("jobs.main")}
                Service.ServeAsync(Task, Task) at {At("jobs.serve")}
                Task.WhenAll (2 pending)
                Service.RunJobAsync(CancellationToken) at {At("jobs.run")}
                Service.PollAsync(CancellationToken) at {At("jobs.poll")}
                awaiting Task.Delay
            created (this task, then each awaiting it):
                {id["Service.PollAsync(CancellationToken)"]} Service.PollAsync(CancellationToken): {At("jobs.run")} in Service.RunJobAsync(CancellationToken), N s ago
                {id["Service.RunJobAsync(CancellationToken)"]} Service.RunJobAsync(CancellationToken): {At("jobs.start-job")} in Program.Main(string[]), N s ago
                {id["Service.ServeAsync(Task, Task)"]} Service.ServeAsync(Task, Task): {At("jobs.main")} in Program.Main(string[]), N s ago
                {id["Program.Main(string[])"]} Program.Main(string[]): unknown, N s ago

            """, text);

        var ps = app.Console("ps", "--sort", "age");
        Assert.True(ps.ExitCode == 0, ps.ToString());
        var rows = ps.Stdout.Split('\n');
        Assert.Matches("^ID +STATE +METHOD +PARKED AT +AGE +AWAITING +AWAITED BY +ROOT$", rows[2]);
        Assert.Matches(@"^\d+ +parked +Service.PollAsync\(CancellationToken\) +Service.cs:\d+ +\d+\.\d s +Task.Delay", rows[3]);
        // The combinator has no age: last.
        Assert.StartsWith(id["Task.WhenAll (2 pending)"] + " ", rows[^2]);
        Assert.Equal(0, app.Release());
    }

    [Fact]
    public void In_debug_mode_each_ended_method_has_its_last_async_stack_creation_site_lifetime_and_how_it_ended()
    {
        // "timeout" first runs a fetch HttpClient's timeout cancels and an export a CancelAfter deadline cancels.
        using var app = new ConsoledApp(["bill", "timeout"], viaRun: true);
        var id = ConsoleTests.Ids(app);
        Assert.Equal(0, app.Console("cancel", id["Service.RunJobAsync(CancellationToken)"]).ExitCode);
        app.Send("decline");
        app.WaitFor("bill: card declined for order 7");
        // Captured as each ends (debug mode sees it), turned into text by the next sweep: no need to have been pending long.
        var rows = new Dictionary<string, string[]>();
        for (var i = 0; i < 50 && !(rows.ContainsKey("Service.ChargeAsync(Task)") && rows.ContainsKey("Service.PollAsync(CancellationToken)")); i++)
        {
            Thread.Sleep(200);
            var text = app.Console("ps-terminated").Stdout;
            Assert.Matches(@"^asynclens: \d+ ended async methods \(the last 1000 kept; \d+ since the console started; pid ", text);
            Assert.Matches("^ID +HOW +METHOD +LAST PARKED AT +LIVED +ENDED$", text.Split('\n')[2]);
            rows = text.TrimEnd('\n').Split('\n')[3..].Select(l => Regex.Split(l, " {2,}")).ToDictionary(r => r[2]);
        }
        string[] Row(string method) => [.. rows[method].Take(4), Lived().Replace(rows[method][4], "N s"), Ended().Replace(rows[method][5], "N s ago")];
        Assert.Equal([id["Service.PollAsync(CancellationToken)"], "cancelled by the console", "Service.PollAsync(CancellationToken)", Short("jobs.poll"), "N s", "N s ago"], Row("Service.PollAsync(CancellationToken)"));
        Assert.Equal([id["Service.ChargeAsync(Task)"], "faulted", "Service.ChargeAsync(Task)", Short("jobs.charge"), "N s", "N s ago"], Row("Service.ChargeAsync(Task)"));
        Assert.Equal(["cancelled by a timeout", "Timeouts.FetchReportAsync(string)", Short("jobs.fetch")], Row("Timeouts.FetchReportAsync(string)")[1..4]);
        Assert.Equal(["cancelled by a token", "Timeouts.ExportAsync(CancellationToken)", Short("jobs.export")], Row("Timeouts.ExportAsync(CancellationToken)")[1..4]);
        // --filter, as ps' (and how it ended): the faulted ones alone.
        var faulted = app.Console("ps-terminated", "--filter", "faulted").Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches(@"^\d+ matching 'faulted'$", faulted[1]);
        Assert.Equal(int.Parse(faulted[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture), faulted.Length - 4);
        Assert.All(faulted[4..], l => Assert.Equal("faulted", Regex.Split(l, " {2,}")[1]));
        Assert.Contains(faulted[4..], l => Regex.Split(l, " {2,}")[2] == "Service.ChargeAsync(Task)");
        // HttpClient's timeout: the 300 ms it waited (a timer may fire a tick early).
        Assert.True(double.Parse(rows["Timeouts.FetchReportAsync(string)"][4][..^2], System.Globalization.CultureInfo.InvariantCulture) >= 0.25, rows["Timeouts.FetchReportAsync(string)"][4]);

        var charge = app.Console("where-terminated", id["Service.ChargeAsync(Task)"]);
        Assert.True(charge.ExitCode == 0, charge.ToString());
        Assert.Equal(
            $"""
            task {id["Service.ChargeAsync(Task)"]}: Service.ChargeAsync(Task), faulted, N s ago (T), lived N s
              exception: InvalidOperationException: card declined for order 7
              last parked at {At("jobs.charge")}
              last async stack (root first):
                Service.BillAsync(Task) at {At("jobs.bill")}
                Service.ChargeAsync(Task) at {At("jobs.charge")}
              created at {At("jobs.bill")} in Service.BillAsync(Task)

            """, LivedText().Replace(Where().Replace(charge.Stdout, "N s ago (T)"), "lived N s"));
        var fetchId = rows["Timeouts.FetchReportAsync(string)"][0];
        var fetch = app.Console("where-terminated", fetchId);
        Assert.Equal(
            $"""
            task {fetchId}: Timeouts.FetchReportAsync(string), cancelled by a timeout, N s ago (T), lived N s
              exception: TaskCanceledException: The request was canceled due to the configured HttpClient.Timeout of 0.3 seconds elapsing.
              last parked at {At("jobs.fetch")}
              last async stack (root first):
                Program.Main(string[]) at {At("jobs.timeouts")}
                Timeouts.RunAsync() at {At("jobs.fetch.call")}
                Timeouts.FetchReportAsync(string) at {At("jobs.fetch")}
              created at {At("jobs.fetch.call")} in Timeouts.RunAsync()

            """, LivedText().Replace(Where().Replace(fetch.Stdout, "N s ago (T)"), "lived N s"));
        var export = app.Console("where-terminated", rows["Timeouts.ExportAsync(CancellationToken)"][0], "--format", "json");
        using (var doc = System.Text.Json.JsonDocument.Parse(export.Stdout))
        {
            var result = doc.RootElement.GetProperty("result");
            Assert.Equal("cancelled by a token", result.GetProperty("how").GetString());
            Assert.Equal("TaskCanceledException: A task was canceled.", result.GetProperty("exception").GetString());
            Assert.True(result.GetProperty("lived").GetDouble() >= 0.25, export.Stdout);
            Assert.Equal(At("jobs.export.call"), $"{result.GetProperty("createdAt").GetProperty("file").GetString()}:{result.GetProperty("createdAt").GetProperty("line")}");
            Assert.Equal(
                [("Program.Main(string[])", At("jobs.timeouts")), ("Timeouts.RunAsync()", At("jobs.export.call")), ("Timeouts.ExportAsync(CancellationToken)", At("jobs.export"))],
                result.GetProperty("stack").EnumerateArray().Select(f => (f.GetProperty("method").GetString(), $"{f.GetProperty("file").GetString()}:{f.GetProperty("line")}")).ToArray());
        }
        Assert.Equal(0, app.Release());
    }

    private static string Short(string tag) => $"{Path.GetFileName(ConsoleTests.Markers[tag].File)}:{ConsoleTests.Markers.Line(tag)}";

    [GeneratedRegex(@"\d+(\.\d)? s ago \(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\)")]
    private static partial Regex Where();

    [GeneratedRegex(@"\d+(\.\d)? s$")]
    private static partial Regex Lived();

    [GeneratedRegex(@"\d+(\.\d)? s ago$")]
    private static partial Regex Ended();

    [GeneratedRegex(@"lived \d+(\.\d)? s")]
    private static partial Regex LivedText();

    [GeneratedRegex(@", \d+(\.\d)? s ago")]
    private static partial Regex Ago();
}
