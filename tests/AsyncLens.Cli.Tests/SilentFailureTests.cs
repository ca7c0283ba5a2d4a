using System.Globalization;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>What used to fail without a word: reports nobody could write, SDK commands run under debug mode.</summary>
public sealed class SilentFailureTests
{
    private const string NotWatching = "the .NET SDK's own processes are skipped on purpose, so nothing will be reported; "
        + "to watch your program, run it: asynclens run -- dotnet path/to/YourApp.dll (or: asynclens run -- dotnet run)";

    [Fact]
    public void Reports_a_full_disk_refuses_are_said_once_and_the_exit_code_says_they_were_lost()
    {
        // Two scenarios of the Bugs target: two reports, each refused by /dev/full (every scenario took 8-80 s).
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "-o", "/dev/full", "--", Repo.Program("Bugs"), "slow", "blocking"]);
        Assert.True(result.ExitCode == 74, result.ToString());
        var said = result.Stderr.Split('\n').Where(l => l.StartsWith("asynclens:", StringComparison.Ordinal)).ToList();
        Assert.Equal(["asynclens: cannot write reports to '/dev/full' (No space left on device : '/dev/full'): reports are lost from now on, and the process will exit with code 74"], said);
    }

    [Fact]
    public void An_sdk_command_under_run_says_it_is_not_watched()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "--", ChildProcess.DotnetPath(), "build", "--help"], timed: false);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"asynclens: not watching 'dotnet build': {NotWatching}\n", result.Stderr);
    }

    [Fact]
    public void Sigusr1_sent_to_an_sdk_command_is_answered_and_does_not_kill_it()
    {
        using var dir = new TempDirectory("asynclens-sdk-");
        var project = dir.File("wait.proj");
        File.WriteAllText(project, """
            <Project>
              <Target Name="Build">
                <Exec Command="echo sdk $PPID; sleep 2" StandardOutputImportance="high" />
                <Message Importance="high" Text="build finished" />
              </Target>
            </Project>
            """);
        var sdk = 0;
        var result = ChildProcess.DotnetInteractive([Repo.Cli, "run", "--", ChildProcess.DotnetPath(), "msbuild", project], null, line =>
        {
            if (line.Trim().Split(' ') is ["sdk", var pid] && sdk == 0)
            {
                sdk = int.Parse(pid, CultureInfo.InvariantCulture);
                Signals.Send("-USR1", sdk);
            }
        });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("build finished", result.Stdout);
        Assert.Equal(
            $"asynclens: not watching 'dotnet msbuild': {NotWatching}\n"
            + $"asynclens: SIGUSR1 ignored: process {sdk} is the .NET SDK ('dotnet msbuild'), which asynclens does not watch\n",
            result.Stderr);
    }
}
