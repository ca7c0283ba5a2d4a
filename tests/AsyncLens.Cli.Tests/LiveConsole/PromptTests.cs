using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// <c>asynclens console PID</c> at a terminal (a pseudo-terminal, driven by python3's pty module): tab completes a
/// command, up recalls the lines typed before, each answer is printed under its line, <c>exit</c> leaves.
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed partial class PromptTests
{
    [Fact]
    public void The_prompt_completes_recalls_and_answers()
    {
        using var app = new ConsoledApp();
        var drive = ChildProcess.Run("python3",
            [Repo.Source("tests", "AsyncLens.Cli.Tests", "LiveConsole", "pty_drive.py"), @"he\t\x00\r\x00ps --filter release\r\x00\x1b[A\x1b[A\r\x00exit\r",
             ChildProcess.DotnetPath(), Repo.Cli, "console", app.PidText], timed: false);
        Assert.True(drive.ExitCode == 0, drive.ToString());
        var screen = Screen(drive.Stdout);
        var prompt = $"asynclens Jobs {app.PidText}> ";
        string[] help =
        [
            "ps [--filter TEXT] [--sort KEY]          every pending async method: id, state, method, parked at, age, awaiting, awaited by (KEY: age, busy, method)",
            "where ID                                 its async stack, root first, with lines, and where each task in it was created",
            "cancel ID                                cancels the CancellationTokenSource whose token the task's chain holds, or aborts the request it serves",
            "ps-terminated [--filter TEXT]            the last async methods that ended: how (completed, faulted, cancelled), their last await",
            "where-terminated ID                      one of them: how it ended, its exception, its last async stack, where it was created",
            "threads                                  every thread: its state, the async step it runs, the task it is blocked on (debug mode)",
            "pool                                     the thread pool: workers busy and idle, queue, starvation, what the busy workers share",
            "requests                                 ASP.NET Core requests in flight: method, path, route, age, and the tasks under each",
            "help                                     this list",
        ];
        Assert.Matches($@"^connected to Jobs \(pid {app.PidText}, console since 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\): 'help' lists the commands, 'exit' leaves$", screen[0]);
        Assert.Equal([prompt + "help", .. help, prompt + "ps --filter release"], screen[1..12]);
        Assert.StartsWith($"asynclens: 6 pending tasks in 1 root (pid {app.PidText}, ", screen[12]);
        Assert.Equal("1 matching 'release'", screen[13]);
        Assert.Matches(@"^\d+ +parked +Service.WaitForReleaseAsync\(Task\) +Service.cs:\d+ +TaskCompletionSource", screen[16]);
        // Up twice: back past "ps --filter release" to the completed "help".
        Assert.Equal([prompt + "help", .. help, prompt + "exit"], screen[17..]);
        Assert.Equal(0, app.Release());
    }

    /// <summary>What a terminal shows: each line as its last redraw (after the last carriage return), escapes gone.</summary>
    private static string[] Screen(string raw) =>
        Escapes().Replace(raw, "").Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n')
            .Select(line => line[(line.LastIndexOf('\r') + 1)..].TrimEnd()).ToArray();

    [GeneratedRegex(@"\x1b(\[[0-9;?]*[A-Za-z]|[=>])")]
    private static partial Regex Escapes();
}
