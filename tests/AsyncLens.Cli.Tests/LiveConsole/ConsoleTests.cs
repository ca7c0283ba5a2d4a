using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens console</c> on tests/Targets/Jobs, started with the startup hook and ASYNCLENS_CONSOLE=1: the table,
/// the stack, cancel with and without a token, the list of consoles, the exit codes, in exact text and JSON.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed partial class ConsoleTests
{
    internal static readonly SourceMarkers Markers = new(Repo.Source("tests", "Targets", "Jobs"));

    internal static string At(string tag) => $"{Markers[tag].File}:{Markers[tag].Line.ToString(CultureInfo.InvariantCulture)}";

    private static string Short(string tag) => $"{Path.GetFileName(Markers[tag].File)}:{Markers[tag].Line.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Each pending method's id, from <c>ps --format json</c>.</summary>
    internal static Dictionary<string, string> Ids(ConsoledApp app)
    {
        var ps = app.Console("ps", "--format", "json");
        Assert.True(ps.ExitCode == 0, ps.ToString());
        using var doc = JsonDocument.Parse(ps.Stdout);
        Assert.Equal(1, doc.RootElement.GetProperty("version").GetInt32());
        return doc.RootElement.GetProperty("result").GetProperty("tasks").EnumerateArray()
            .ToDictionary(t => t.GetProperty("method").GetString()!, t => t.GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Ps_lists_each_pending_method_parked_at_its_line()
    {
        using var app = new ConsoledApp();
        var id = Ids(app);
        var ps = app.Console("ps");
        Assert.True(ps.ExitCode == 0, ps.ToString());
        var lines = ps.Stdout.TrimEnd('\n').Split('\n');
        Assert.StartsWith($"asynclens: 6 pending tasks in 1 root (pid {app.PidText}, 20", lines[0]);
        Assert.Equal("", lines[1]);
        string[][] expected =
        [
            ["ID", "STATE", "METHOD", "PARKED AT", "AWAITING", "AWAITED BY", "ROOT"],
            .. new[]
            {
                new[] { id["Service.PollAsync(CancellationToken)"], "parked", "Service.PollAsync(CancellationToken)", Short("jobs.poll"), "Task.Delay", id["Service.RunJobAsync(CancellationToken)"], "no" },
                [id["Service.RunJobAsync(CancellationToken)"], "parked", "Service.RunJobAsync(CancellationToken)", Short("jobs.run"), id["Service.PollAsync(CancellationToken)"], id["Task.WhenAll (2 pending)"], "no"],
                [id["Service.WaitForReleaseAsync(Task)"], "parked", "Service.WaitForReleaseAsync(Task)", Short("jobs.release"), "TaskCompletionSource", id["Service.WaitAsync(Task)"], "no"],
                [id["Service.WaitAsync(Task)"], "parked", "Service.WaitAsync(Task)", Short("jobs.wait"), id["Service.WaitForReleaseAsync(Task)"], id["Task.WhenAll (2 pending)"], "no"],
                [id["Task.WhenAll (2 pending)"], "pending", "Task.WhenAll (2 pending)", "-", $"{id["Service.RunJobAsync(CancellationToken)"]}, {id["Service.WaitAsync(Task)"]}", id["Service.ServeAsync(Task, Task)"], "no"],
                [id["Service.ServeAsync(Task, Task)"], "parked", "Service.ServeAsync(Task, Task)", Short("jobs.serve"), id["Task.WhenAll (2 pending)"], id["Program.Main(string[])"], "no"],
                [id["Program.Main(string[])"], "parked", "Program.Main(string[])", Short("jobs.main"), id["Service.ServeAsync(Task, Task)"], "-", "yes"],
            }.OrderBy(row => long.Parse(row[0], CultureInfo.InvariantCulture)),
        ];
        Assert.Equal(expected, lines[2..].Select(l => Columns().Split(l)).ToArray());

        var filtered = app.Console("ps", "--filter", "release");
        var rows = filtered.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal("1 matching 'release'", rows[1]);
        Assert.Equal([expected[0], expected.Single(r => r[2] == "Service.WaitForReleaseAsync(Task)")], rows[3..].Select(l => Columns().Split(l)).ToArray());
        Assert.Equal(0, app.Release());
        Assert.Contains("done: 0 requests answered", app.Output);
    }

    [Fact]
    public void Where_prints_the_async_stack_root_first_with_the_line_of_every_await()
    {
        using var app = new ConsoledApp();
        var id = Ids(app)["Service.RunJobAsync(CancellationToken)"];
        var where = app.Console("where", id);
        Assert.True(where.ExitCode == 0, where.ToString());
        Assert.Equal(
            $"""
            task {id}: Service.RunJobAsync(CancellationToken), parked at {At("jobs.run")}
            async stack (root first):
                Program.Main(string[]) at {At("jobs.main")}
                Service.ServeAsync(Task, Task) at {At("jobs.serve")}
                Task.WhenAll (2 pending)
                Service.RunJobAsync(CancellationToken) at {At("jobs.run")}    <- task {id}
                Service.PollAsync(CancellationToken) at {At("jobs.poll")}
                awaiting Task.Delay
            created at: the app records creation sites and ages in debug mode only: start it with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)

            """, where.Stdout);

        var json = app.Console("where", id, "--format", "json");
        using var doc = JsonDocument.Parse(json.Stdout);
        var frames = doc.RootElement.GetProperty("result").GetProperty("stacks")[0].GetProperty("frames").EnumerateArray()
            .Select(f => $"{f.GetProperty("method").GetString()} {f.GetProperty("file").GetString()}:{f.GetProperty("line")}").ToArray();
        Assert.Equal(
            [$"Program.Main(string[]) {At("jobs.main")}", $"Service.ServeAsync(Task, Task) {At("jobs.serve")}", "Task.WhenAll (2 pending) :",
             $"Service.RunJobAsync(CancellationToken) {At("jobs.run")}", $"Service.PollAsync(CancellationToken) {At("jobs.poll")}"], frames);
        Assert.Equal(0, app.Release());
    }

    [Fact]
    public void Cancel_cancels_the_token_the_task_holds_and_the_task_sees_it()
    {
        using var app = new ConsoledApp();
        var id = Ids(app)["Service.RunJobAsync(CancellationToken)"];
        var cancel = app.Console("cancel", id);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal($"cancel {id}: cancelled the CancellationTokenSource of 'cancellation', which it holds (parked at {At("jobs.run")})\n", cancel.Stdout);
        app.WaitFor("job: cancelled, stopping");
        Assert.Contains("job: cancelled, stopping\n", app.Output);
        var ps = app.Console("ps");
        Assert.StartsWith($"asynclens: 4 pending tasks in 1 root (pid {app.PidText}, ", ps.Stdout);
        Assert.DoesNotContain("RunJobAsync", ps.Stdout);
        Assert.Equal(0, app.Release());
        Assert.Contains("done: 0 requests answered", app.Output);
    }

    [Fact]
    public void Cancel_of_a_chain_without_a_token_changes_nothing_and_exits_1()
    {
        using var app = new ConsoledApp();
        var ids = Ids(app);
        var id = ids["Service.WaitAsync(Task)"];
        var cancel = app.Console("cancel", id);
        Assert.Equal(1, cancel.ExitCode);
        Assert.Equal("", cancel.Stdout);
        Assert.Equal($"asynclens: cancel: task {id} (Service.WaitAsync(Task)) and the tasks it awaits or is awaited by hold no CancellationTokenSource that can be cancelled, and it serves no ASP.NET Core request in flight: nothing was changed\n", cancel.Stderr);
        // Main's own CancellationTokenSource is above it, and was given to the job, not to this wait: left alone.
        Assert.Equal(ids, Ids(app));
        Assert.DoesNotContain("job: cancelled", app.Output);
        Assert.Equal(0, app.Release());
    }

    [Fact]
    public void Bad_input_exits_2_and_what_cannot_be_done_exits_1_each_with_one_line()
    {
        using var app = new ConsoledApp();
        (string[] Args, int Exit, string Error)[] cases =
        [
            (["where", "x"], 2, "asynclens: where: 'x' is not a task id (a number, as ps prints it)"),
            (["where"], 2, "asynclens: where: which task? give its id, as ps prints it (where 17)"),
            (["ps", "--sort", "size"], 2, "asynclens: ps: --sort 'size' is not age, busy or method"),
            (["ps", "--filter"], 2, "asynclens: ps: --filter needs a value"),
            (["ps", "extra"], 2, "asynclens: ps: unexpected 'extra' (see 'help')"),
            (["frobnicate"], 2, "asynclens: unknown command 'frobnicate': help, ps, where, cancel, ps-terminated, where-terminated, threads, pool, requests (see 'help')"),
            (["where", "999999"], 1, "asynclens: where: no pending task 999999 (it may have ended; ps lists the pending ones)"),
            (["cancel", "999999"], 1, "asynclens: cancel: no pending task 999999 (it may have ended; ps lists the pending ones)"),
            (["ps", "--sort", "busy"], 1, "asynclens: ps: --sort busy: the app records busy time per task in debug mode only: start it with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)"),
            (["ps", "--sort", "age"], 1, "asynclens: ps: --sort age: the app records creation sites and ages in debug mode only: start it with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)"),
        ];
        foreach (var (args, exit, error) in cases)
        {
            var result = app.Console(args);
            Assert.True(result.ExitCode == exit, string.Join(' ', args) + "\n" + result);
            Assert.Equal(error + "\n", result.Stderr);
            Assert.Equal("", result.Stdout);
        }
        var json = app.Console("where", "x", "--format", "json");
        Assert.Equal(2, json.ExitCode);
        Assert.Equal("{\"version\":1,\"kind\":\"error\",\"id\":1,\"command\":\"where\",\"exit\":2,\"error\":\"where: 'x' is not a task id (a number, as ps prints it)\"}\n", json.Stdout);

        var notAPid = ChildProcess.Dotnet([Repo.Cli, "console", "abc", "ps"], timed: false);
        Assert.Equal((2, "asynclens: 'abc' is not a process id (a number, as 'asynclens console' lists them) (see 'asynclens console --help')\n"), (notAPid.ExitCode, notAPid.Stderr));
        var gone = ChildProcess.Dotnet([Repo.Cli, "console", "999999999", "ps"], timed: false);
        Assert.Equal((2, "asynclens: no process with id 999999999\n"), (gone.ExitCode, gone.Stderr));
        Assert.Equal(0, app.Release());
    }

    [Fact]
    public void Console_with_no_arguments_lists_the_processes_with_a_console()
    {
        // A socket left by a killed process (no such pid): the next agent to start removes it.
        var stale = $"/tmp/asynclens-{Users.Effective.ToString(CultureInfo.InvariantCulture)}/999999999.sock";
        if (Directory.Exists(Path.GetDirectoryName(stale)))
            File.WriteAllText(stale, "");
        using var app = new ConsoledApp();
        Assert.False(File.Exists(stale));
        using var inCode = new ConsoledApp(["in-code"], new Dictionary<string, string?>());
        var list = ChildProcess.Dotnet([Repo.Cli, "console"], timed: false);
        Assert.True(list.ExitCode == 0, list.ToString());
        var rows = list.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches("^PID +PROGRAM +SINCE$", rows[0]);
        foreach (var pid in new[] { app.PidText, inCode.PidText })
            Assert.Single(rows, r => Regex.IsMatch(r, $"^{pid} +Jobs +20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"));

        var json = ChildProcess.Dotnet([Repo.Cli, "console", "--format", "json"], timed: false);
        using var doc = JsonDocument.Parse(json.Stdout);
        var mine = doc.RootElement.GetProperty("consoles").EnumerateArray().Single(c => c.GetProperty("pid").GetInt32() == app.Pid);
        Assert.Equal("Jobs", mine.GetProperty("program").GetString());
        Assert.Equal($"/tmp/asynclens-{Users.Effective.ToString(CultureInfo.InvariantCulture)}/{app.PidText}.sock", mine.GetProperty("socket").GetString());
        Assert.Contains($"console: /tmp/asynclens-{Users.Effective.ToString(CultureInfo.InvariantCulture)}/{inCode.PidText}.sock", inCode.Output);
        Assert.Equal(0, app.Release());
        Assert.Equal(0, inCode.Release());
        // Gone with its process: the socket file too.
        Assert.False(File.Exists(mine.GetProperty("socket").GetString()));
    }

    [GeneratedRegex("  +")]
    private static partial Regex Columns();
}
