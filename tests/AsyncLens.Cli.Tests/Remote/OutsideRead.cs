using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// Runs an outside read (<c>asynclens threads|pstree|stacks PID</c>) on a running app and returns what it printed.
/// One read, never retried: a read that fails (issue 13 item 2: one read in ten of an ASP.NET Core app once found no
/// Task type) fails the test. asynclens runs on the app's runtime.
/// </summary>
internal static class OutsideRead
{
    public static string Run(string command, RunningApp app)
    {
        var result = ChildProcess.Dotnet([Repo.Cli, command, app.PidText], timed: false, timeout: TimeSpan.FromMinutes(3), runtime: app.Runtime);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }
}
