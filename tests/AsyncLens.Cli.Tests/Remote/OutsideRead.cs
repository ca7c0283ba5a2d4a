using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// Runs an outside read (<c>asynclens threads|pstree|stacks PID</c>) on a running app and returns what it printed.
/// A read of an ASP.NET Core app sometimes finds no Task type in the runtime (issue 13 item 2, fixed apart): such a
/// read is tried again, at most four times, so that these tests test what they are about.
/// </summary>
internal static class OutsideRead
{
    public static string Run(string command, RunningApp app)
    {
        ProcessResult result = null!;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (attempt > 0)
                Thread.Sleep(500);
            result = ChildProcess.Dotnet([Repo.Cli, command, app.PidText], timed: false, timeout: TimeSpan.FromMinutes(3));
            if (!result.Stderr.Contains("has no System.Threading.Tasks.Task type", StringComparison.Ordinal))
                break;
        }
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }
}
