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
    public void In_debug_mode_the_history_has_what_ended_too()
    {
        using var app = new ConsoledApp(["bill"], viaRun: true);
        var id = ConsoleTests.Ids(app);
        Thread.Sleep(1500); // parked past one sweep of the inventory: the history is of work pending that long
        Assert.Equal(0, app.Console("cancel", id["Service.RunJobAsync(CancellationToken)"]).ExitCode);
        app.Send("decline");
        app.WaitFor("bill: card declined for order 7");
        var text = "";
        for (var i = 0; i < 50 && !text.StartsWith("asynclens: 4 ended", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(200);
            text = app.Console("ps-terminated").Stdout;
        }
        Assert.StartsWith("asynclens: 4 ended async methods (the last 1000 kept; 4 since the console started; pid ", text);
        Assert.Matches($@"\n{id["Service.PollAsync(CancellationToken)"]} +cancelled by the console +Service.PollAsync\(CancellationToken\) +Service.cs:\d+ ", text);
        Assert.Matches($@"\n{id["Service.ChargeAsync(Task)"]} +faulted +Service.ChargeAsync\(Task\) +Service.cs:\d+ ", text);
        Assert.Equal(0, app.Release());
    }

    [GeneratedRegex(@", \d+(\.\d)? s ago")]
    private static partial Regex Ago();
}
