using System.Globalization;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens top PID</c> on tests/Targets/Jobs <c>crunch bill</c> under <c>asynclens run --console</c> (ages, busy
/// time and steps; the bill's charge declined first, so that two methods have ended): at a terminal, an 80x24 tmux pane
/// driven by send-keys and read by capture-pane (the header, a row of a known task with its line, the sort key changed
/// by s, the where view, the view of ended tasks and where-terminated, q leaving with 0); printed to a pipe, one frame;
/// the exit codes without an agent and for a bad pid. One Jobs process for all of them.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed partial class TopTests(TopTests.CrunchApp fixture) : IClassFixture<TopTests.CrunchApp>
{
    public sealed class CrunchApp : IDisposable
    {
        internal ConsoledApp App { get; } = new(["crunch", "bill"], viaRun: true);

        internal Dictionary<string, string> Ids { get; }

        public CrunchApp()
        {
            // The charge fails, the bill catches it: two async methods end (faulted, ran to completion), 8 stay pending.
            App.Send("decline");
            App.WaitFor("bill: card declined");
            Ids = ConsoleTests.Ids(App);
        }

        public void Dispose() => App.Dispose();
    }

    private static string Short(string tag) =>
        $"{Path.GetFileName(ConsoleTests.Markers[tag].File)}:{ConsoleTests.Markers[tag].Line.ToString(CultureInfo.InvariantCulture)}";

    private ConsoledApp App => fixture.App;

    private string Header(string sort) => $@"^Jobs \(pid {App.PidText}\): 8 pending tasks, \d\d:\d\d:\d\d UTC, sort: {sort}$";

    /// <summary>A task that never resumed: parked at its line, an age, no busy time, no steps.</summary>
    private string Row(string method, string tag) =>
        $@"^{fixture.Ids[method]} +parked +{Regex.Escape(method)} +{Regex.Escape(Short(tag))} +\d+(\.\d)? s +0\.000 s +0$";

    [Fact]
    public void At_a_terminal_it_refreshes_sorts_shows_where_and_quits_on_q()
    {
        if (ChildProcess.Run("sh", ["-c", "command -v tmux"], timed: false).ExitCode != 0)
            Assert.Fail("this test drives asynclens top through tmux, which is not installed: apt-get install tmux (.ci/run installs it)");
        using var dir = new TempDirectory("asynclens-top-");
        File.WriteAllText(dir.File("tmux.conf"), "set -g remain-on-exit on\n");
        var socket = dir.File("tmux.sock");
        ProcessResult Tmux(params string[] args) =>
            ChildProcess.Run("tmux", ["-S", socket, .. args], new Dictionary<string, string?> { ["TERM"] = "xterm" }, timed: false);
        var top = string.Join(' ', new[] { ChildProcess.DotnetPath(), Repo.Cli, "top", App.PidText, "--pending-limit", "1" }.Select(a => $"'{a}'"));
        var started = Tmux("-f", dir.File("tmux.conf"), "new-session", "-d", "-x", "80", "-y", "24", "-s", "top", top);
        Assert.True(started.ExitCode == 0, started.ToString());
        try
        {
            string[] Screen() => Tmux("capture-pane", "-p", "-t", "top").Stdout.TrimEnd('\n').Split('\n');
            string[] WaitFor(string what, Func<string[], bool> shown)
            {
                var screen = Screen();
                for (var i = 0; i < 100 && !shown(screen); i++)
                {
                    Thread.Sleep(100);
                    screen = Screen();
                }
                Assert.True(shown(screen), $"not on the screen: {what}\n{string.Join('\n', screen)}");
                return screen;
            }

            // Sorted by age: the oldest first, the combinator (no age) last; every row fits 80 columns.
            // (Waited for until all 7 async methods are more than 1 s old: the warnings panel says so.)
            var screen = WaitFor("the tasks, by age, and the warning", s => Regex.IsMatch(s[0], Header("age")) && s.Length == 24 && s[^1].StartsWith("  7 pending", StringComparison.Ordinal));
            Assert.Equal("q quit  s sort  / filter  up/down select  Enter where  c cancel  t ended", screen[1]);
            Assert.Matches("^ID +STATE +METHOD +PARKED AT +AGE +BUSY +STEPS$", screen[2]);
            Assert.Single(screen, line => Regex.IsMatch(line, Row("Service.WaitAsync(Task)", "jobs.wait")));
            Assert.Matches($@"^{fixture.Ids["Task.WhenAll (2 pending)"]} +pending +Task\.WhenAll \(2 pending\) +- +- +- +-$", screen[10]);
            Assert.All(screen, line => Assert.True(line.Length <= 80, line));
            // The warnings panel, at the bottom: the oldest of the async methods pending more than 1 s.
            Assert.Equal("warnings:", screen[^2]);
            Assert.Matches($@"^  7 pending past 1\.0 s; oldest \d+(\.\d)? s: {fixture.Ids["Service.PollAsync(CancellationToken)"]} Service\.PollAsync\(CancellationToken\)$", screen[^1]);

            // s: by busy time, the task that ran 20 steps first.
            Tmux("send-keys", "-t", "top", "s");
            screen = WaitFor("the tasks, by busy time", s => Regex.IsMatch(s[0], Header("busy")));
            Assert.Matches($@"^{fixture.Ids["Service.CrunchAsync(Task)"]} +parked +Service\.CrunchAsync\(Task\) +{Regex.Escape(Short("jobs.crunch.park"))} +\d+(\.\d)? s +0\.[2-9]\d\d s +20$", screen[3]);

            // / filters; Enter keeps the filter; Enter again: where of the selected (the only) row.
            Tmux("send-keys", "-t", "top", "/");
            Tmux("send-keys", "-t", "top", "-l", "WaitAsync");
            screen = WaitFor("the filter", s => s[1].StartsWith("filter: WaitAsync_", StringComparison.Ordinal) && s.Length > 3 && s[4] == "");
            Assert.Matches(Row("Service.WaitAsync(Task)", "jobs.wait"), screen[3]);
            Tmux("send-keys", "-t", "top", "Enter");
            WaitFor("the filter kept", s => s[1].StartsWith("filter 'WaitAsync': 1 shown, Esc clears it;", StringComparison.Ordinal));
            Tmux("send-keys", "-t", "top", "Enter");
            var id = fixture.Ids["Service.WaitAsync(Task)"];
            screen = WaitFor("the where view", s => s[0].StartsWith($"where {id}: ", StringComparison.Ordinal));
            Assert.Equal($"where {id}: any key back to the list, up/down scroll, q quit", screen[0]);
            Assert.StartsWith($"task {id}: Service.WaitAsync(Task), parked at ", screen[1]);
            // Long lines go on under themselves: read without the breaks, the stack has every await's file and line.
            var where = Joined(screen[1..]);
            foreach (var (method, tag) in new[] { ("Program.Main(string[])", "jobs.main"), ("Service.ServeAsync(Task, Task)", "jobs.serve"), ("Service.WaitAsync(Task)", "jobs.wait"), ("Service.WaitForReleaseAsync(Task)", "jobs.release") })
                Assert.Contains(Joined([$"{method} at {ConsoleTests.At(tag)}"]), where);
            Assert.Contains("created(thistask,theneachawaitingit):", where);

            // Any key: back to the list; Esc: the filter goes.
            Tmux("send-keys", "-t", "top", "Escape");
            WaitFor("the list again", s => Regex.IsMatch(s[0], Header("busy")));
            Tmux("send-keys", "-t", "top", "Escape");
            WaitFor("the list unfiltered", s => s[1].StartsWith("q quit", StringComparison.Ordinal));

            // t: the async methods that ended (ps-terminated), newest first; Enter: where-terminated of the selected one.
            Tmux("send-keys", "-t", "top", "t");
            screen = WaitFor("the ended tasks", s => s[0].Contains(" ended async methods ", StringComparison.Ordinal) && s.Length > 4 && s[4].Length > 0);
            Assert.Matches($@"^Jobs \(pid {App.PidText}\): 2 ended async methods \(of 2; the last 1000 kept\), \d\d:\d\d:\d\d UTC$", screen[0]);
            Assert.Equal("q quit  t pending  / filter  up/down select  Enter where-terminated", screen[1]);
            Assert.Matches("^ID +HOW +METHOD +LAST PARKED AT +LIVED +ENDED$", screen[2]);
            // 80 columns: the method may give way by a few characters (its parameters collapse to '(…)'), the rest stays whole.
            Assert.Matches($@"^\d+ +ran to completion +Service\.BillAsync\((Task\)|[A-Za-z]*…\)?) +{Regex.Escape(Short("jobs.bill"))} +\d+(\.\d)? s +\d+(\.\d)? s ago$", screen[3]);
            Assert.Matches($@"^\d+ +faulted +Service\.ChargeAsync\((Task\)|[A-Za-z]*…\)?) +{Regex.Escape(Short("jobs.charge"))} +\d+(\.\d)? s +\d+(\.\d)? s ago$", screen[4]);
            Assert.Equal("", screen[5]);
            var charge = screen[4].Split(' ')[0];
            Tmux("send-keys", "-t", "top", "Down");
            Tmux("send-keys", "-t", "top", "Enter");
            screen = WaitFor("where-terminated", s => s[0].StartsWith($"where-terminated {charge}: ", StringComparison.Ordinal));
            Assert.Matches($@"^task {charge}: Service\.ChargeAsync\(Task\), faulted, \d+(\.\d)? s ago \(", screen[1]);
            Assert.Contains("  exception: InvalidOperationException: card declined for order 7", screen);
            Assert.Contains(Joined([$"last parked at {ConsoleTests.At("jobs.charge")}"]), Joined(screen[1..]));
            Tmux("send-keys", "-t", "top", "Escape");
            WaitFor("the ended tasks again", s => s[0].Contains(" ended async methods ", StringComparison.Ordinal));
            Tmux("send-keys", "-t", "top", "t");
            WaitFor("the pending tasks again", s => Regex.IsMatch(s[0], Header("busy")));

            // q: top leaves the alternate screen and exits 0.
            Tmux("send-keys", "-t", "top", "q");
            // tmux 3.3a marks the pane dead when its terminal closes, and fills in the exit status only once it has
            // reaped the process, which it did not always do within 10 s here (2 runs of 5 read a dead pane, no status):
            // the pane must die, and an exit status, when tmux gives one, must be 0.
            var status = "";
            for (var i = 0; i < 100 && status != "1 0"; i++)
            {
                Thread.Sleep(100);
                status = Tmux("display-message", "-p", "-t", "top", "#{pane_dead} #{pane_dead_status}").Stdout.Trim();
            }
            Assert.True(status is "1 0" or "1", $"the pane after q: '{status}' (dead, exit status)");
        }
        finally
        {
            Tmux("kill-server");
        }
    }

    private static string Joined(string[] lines) => Regex.Replace(string.Concat(lines), @"\s+", "");

    [Fact]
    public void Printed_to_a_pipe_it_is_one_frame_with_every_row_as_wide_as_COLUMNS()
    {
        var top = ChildProcess.Dotnet([Repo.Cli, "top", App.PidText, "--pending-limit", "600"], new Dictionary<string, string?> { ["COLUMNS"] = "120" }, timed: false);
        Assert.True(top.ExitCode == 0, top.ToString());
        var lines = top.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches(Header("age"), lines[0]);
        Assert.Matches("^ID +STATE +METHOD +PARKED AT +AGE +BUSY +STEPS$", lines[1]);
        Assert.Equal(8, lines.Count(l => Regex.IsMatch(l, @"^\d+ +(parked|pending) ")));
        Assert.Single(lines, line => Regex.IsMatch(line, Row("Service.WaitForReleaseAsync(Task)", "jobs.release")));
        // $COLUMNS wide (80 without it): 120 leave every method whole.
        Assert.All(lines, line => Assert.True(line.Length <= 120 && !line.Contains('…', StringComparison.Ordinal), line));
        Assert.Equal("warnings: none (pending past 10 min, hung steps, pool starvation, requests past 10 s)", lines[^1]);
    }

    [Fact]
    public void Without_an_agent_or_a_process_it_says_so_in_one_line()
    {
        var noAgent = ChildProcess.Dotnet([Repo.Cli, "top", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)], timed: false);
        Assert.Equal(1, noAgent.ExitCode);
        Assert.Equal("", noAgent.Stdout);
        Assert.Equal($"asynclens: process {Environment.ProcessId} has no console: start it with ASYNCLENS_CONSOLE=1 and DOTNET_STARTUP_HOOKS=<path of AsyncLens.Engine.dll>, with 'asynclens run --console -- app', or call AsyncDebug.StartConsole() in it\n", noAgent.Stderr);

        var notANumber = ChildProcess.Dotnet([Repo.Cli, "top", "abc"], timed: false);
        Assert.Equal(2, notANumber.ExitCode);
        Assert.Equal("asynclens: 'abc' is not a process id (a number, as 'asynclens console' lists them) (see 'asynclens top --help')\n", notANumber.Stderr);
        var gone = ChildProcess.Dotnet([Repo.Cli, "top", "999999999"], timed: false);
        Assert.Equal(2, gone.ExitCode);
        Assert.Equal("asynclens: no process with id 999999999\n", gone.Stderr);
    }
}
