using System.Diagnostics;
using System.Globalization;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary><c>asynclens watch</c> given a process it cannot watch, or whose process ends: one line on stderr, exit code 2.</summary>
public sealed class WatchErrorTests
{
    [Fact]
    public void No_such_process()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "watch", "999999"], timed: false);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("asynclens: no process with id 999999\n", result.Stderr);
    }

    [Fact]
    public void A_process_that_is_not_dotnet()
    {
        using var sleep = Process.Start("sleep", "60");
        try
        {
            var result = ChildProcess.Dotnet([Repo.Cli, "watch", sleep.Id.ToString(CultureInfo.InvariantCulture)], timed: false);

            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"asynclens: process {sleep.Id} (sleep) is not a .NET process, or its diagnostics channel is off (DOTNET_EnableDiagnostics=0) or not visible to this user (another TMPDIR, another container)\n",
                result.Stderr);
        }
        finally
        {
            sleep.Kill();
        }
    }

    [Fact]
    public void The_process_exits_while_watched()
    {
        using var watched = new WatchedProgram("healthy");
        watched.KillTarget();
        var result = watched.WaitForWatch();

        Assert.Equal(2, result.ExitCode);
        Assert.EndsWith($"\nasynclens: process {watched.Pid} exited\n", result.Stderr);
        Assert.Equal("", result.Stdout);
    }
}
