using System.Globalization;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens console PID</c> on a process with no agent in it (tests/Targets/Jobs without the startup hook): the
/// read-only commands answered by the outside reader, with one line saying so; the others refused (exit 1) with how
/// to start the agent.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed class OutsideConsoleTests
{
    private static string At(string tag) => ConsoleTests.At(tag);

    private static string Short(string tag) => $"{Path.GetFileName(ConsoleTests.Markers[tag].File)}:{ConsoleTests.Markers.Line(tag).ToString(CultureInfo.InvariantCulture)}";

    private const string StartIt = "start it with ASYNCLENS_CONSOLE=1 and DOTNET_STARTUP_HOOKS=<path of AsyncLens.Engine.dll>, with 'asynclens run --console -- app', or call AsyncDebug.StartConsole() in it";

    [Fact]
    public void Without_an_agent_ps_where_and_threads_are_read_from_outside_and_cancel_says_what_it_needs()
    {
        using var app = new ConsoledApp(env: new Dictionary<string, string?>());
        var note = $"asynclens: process {app.PidText} has no console agent: ps, where and threads are read from outside (the process stops while its memory is copied); cancel, ps-terminated, where-terminated, pool and requests need the agent: {StartIt}\n";

        var ps = app.Console("ps");
        Assert.True(ps.ExitCode == 0, ps.ToString());
        Assert.Equal(note, ps.Stderr);
        var lines = ps.Stdout.TrimEnd('\n').Split('\n');
        Assert.StartsWith($"asynclens: 6 pending tasks in 1 root (pid {app.PidText}, 20", lines[0]);
        var rows = lines[3..].Select(l => Regex.Split(l, " {2,}")).ToDictionary(r => r[2]);
        Assert.Equal(["ID", "STATE", "METHOD", "PARKED AT", "AWAITING", "AWAITED BY", "ROOT"], Regex.Split(lines[2], " {2,}"));
        Assert.Equal(["parked", Short("jobs.run"), rows["Service.PollAsync(CancellationToken)"][0]], rows["Service.RunJobAsync(CancellationToken)"][1..5].Where((_, i) => i != 1));
        Assert.Equal(Short("jobs.release"), rows["Service.WaitForReleaseAsync(Task)"][3]);

        var id = rows["Service.RunJobAsync(CancellationToken)"][0];
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
            created at: where tasks were created, and when, is recorded by debug mode in the app, not readable from outside

            """, where.Stdout);

        var threads = app.Console("threads");
        Assert.True(threads.ExitCode == 0, threads.ToString());
        Assert.Contains($"\nThread 1 (os {app.PidText})\n", threads.Stdout);

        foreach (var command in new[] { "cancel", "ps-terminated", "pool", "requests" })
        {
            var refused = command == "cancel" ? app.Console(command, id) : app.Console(command);
            Assert.True(refused.ExitCode == 1, refused.ToString());
            Assert.Equal($"asynclens: {command} needs the console agent in process {app.PidText}, which has none: {StartIt}\n", refused.Stderr);
            Assert.Equal("", refused.Stdout);
        }
        Assert.Equal(2, app.Console("where", "x").ExitCode);
        Assert.DoesNotContain("job: cancelled", app.Output); // cancel changed nothing
        Assert.Equal(0, app.Release());
    }
}
