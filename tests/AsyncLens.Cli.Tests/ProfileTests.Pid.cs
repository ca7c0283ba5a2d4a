using System.Diagnostics;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>
/// <c>asynclens profile --pid</c>: the same workload of known timings, in a process started with nothing of AsyncLens,
/// profiled from outside over EventPipe. The same names, first lines and timings as in process (the same checks), the
/// methods the events cannot tell apart said to be ambiguous, and the ways it ends: Ctrl+C, the process's exit or
/// death (its profile written all the same), --duration; and the errors.
/// </summary>
public sealed partial class ProfileTests
{
    private const string Twins = "Twins.First.PingAsync() or Twins.Second.PingAsync(int) (ambiguous)";

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")]
    public void Profile_of_a_running_process_from_outside_has_the_methods_lines_and_timings_of_the_in_process_one(string runtime)
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("pid.txt");
        using var attached = new AttachedProfile(TargetRuntime.Named(runtime));
        attached.StartProfiler("-o", path);
        attached.RunWorkload();
        attached.Interrupt();
        var result = attached.WaitForProfiler();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"asynclens: profiling process {attached.Pid} (dotnet) until Ctrl+C or its exit\n"
            + $"{Regex.Match(result.Stderr, @"asynclens: profile of \d+\.\d{3} s \(6 async methods\) written to .*\n").Value}"
            + "asynclens: 1 name of the events matches several methods of the process, listed as '... (ambiguous)': "
            + "the events name a state machine by its type's short name only\n", result.Stderr);
        Assert.Matches($@"asynclens: profile of \d+\.\d{{3}} s \(6 async methods\) written to {Regex.Escape(path)}\n", result.Stderr);
        var table = File.ReadAllText(path);
        var rows = Rows(table);
        CheckKnownTimings(rows, table);
        Assert.Equal(["Program.Main(string[])", Twins, "Workload.DelayTenTimesAsync()", "Workload.FrameworkAsync()", "Workload.RunAsync()", "Workload.SpinAsync()"],
            rows.Keys.Order(StringComparer.Ordinal));
        // Main still waits for its last line: pending, from its first await that waited.
        Assert.True(rows["Program.Main(string[])"] is { Calls: 0, Pending: 1 } main && main.At == $"Program.cs:{s_at.Line("profiled.main")}", table);
        Assert.True(rows[Twins] is { Calls: 2, At: "-" }, table);
        Assert.Matches(@"\nWorkload\.RunAsync\(\) +Workload\.SpinAsync\(\) +4 ", table);
        Assert.Matches(@"\nProgram\.Main\(string\[\]\) +Workload\.RunAsync\(\) +1 ", table);
        Assert.False(attached.LoadedAsyncLens, "an AsyncLens assembly is loaded in the profiled process");
        Assert.False(attached.TargetExited, "the profiled process should run on");
    }

    [Fact]
    public void Callgrind_of_a_process_that_exits_while_profiled_is_written_with_one_line_and_exit_code_2()
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("pid.callgrind");
        using var attached = new AttachedProfile();
        attached.StartProfiler("-o", path);
        attached.RunWorkload();
        attached.EndTarget();
        var result = attached.WaitForProfiler();

        Assert.Equal(2, result.ExitCode);
        Assert.Matches($@"\nasynclens: profile of \d+\.\d{{3}} s \(6 async methods\) written to {Regex.Escape(path)}\n(.*\n)?"
            + $@"asynclens: process {attached.Pid} exited after \d+\.\d s of profiling: the profile of what ran was written\n$", result.Stderr);
        CheckAnnotatedCallgrind(path);
        Assert.Contains($"fl=(1) {s_at["profiled.main"].File}\n", File.ReadAllText(path));
    }

    [Fact]
    public void A_process_killed_mid_profile_gets_what_was_collected_one_line_and_exit_code_2()
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("killed.txt");
        using var attached = new AttachedProfile();
        attached.StartProfiler("-o", path);
        attached.Go();
        // Killed inside DelayTenTimesAsync (2 s of its 2.3 s): RunAsync and it are still pending.
        Thread.Sleep(1000);
        attached.KillTarget();
        var result = attached.WaitForProfiler();

        Assert.Equal(2, result.ExitCode);
        Assert.Matches($@"\nasynclens: profile of \d+\.\d{{3}} s \(\d async methods?\) written to {Regex.Escape(path)}\n"
            + $@"asynclens: process {attached.Pid} exited after \d+\.\d s of profiling: the profile of what ran was written\n$", result.Stderr);
        var rows = Rows(File.ReadAllText(path));
        Assert.True(rows["Workload.RunAsync()"] is { Calls: 0, Pending: 1 } && rows["Workload.DelayTenTimesAsync()"] is { Calls: 0, Pending: 1, Wall: > 0.3 and < 2.0 }, File.ReadAllText(path));
    }

    [Fact]
    public void The_duration_ends_the_profile_and_the_process_runs_on()
    {
        using var attached = new AttachedProfile();
        var watch = Stopwatch.StartNew();
        attached.StartProfiler("--duration", "1s");
        var result = attached.WaitForProfiler();

        Assert.True(result.ExitCode == 0, result.ToString());
        // Nothing ran (the workload waits for its line): an empty table, to standard error.
        Assert.Matches($@"^asynclens: profiling process {attached.Pid} \(dotnet\) for 1s\n"
            + @"asynclens profile: 1\.\d{3} s, 0 async methods\nwall: from its first await that waits to completion[^\n]*\ncalls: those that waited [^\n]*\n$", result.Stderr);
        attached.RunWorkload();
        Assert.False(attached.TargetExited);
    }

    [Fact]
    public void A_process_that_is_not_dotnet_gets_one_line_and_exit_code_2()
    {
        using var sleep = Process.Start("sleep", "60");
        try
        {
            var result = Asynclens("profile", "--pid", sleep.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"asynclens: process {sleep.Id} (sleep) is not a .NET process, or its diagnostics channel is off (DOTNET_EnableDiagnostics=0) "
                + "or not visible to this user (another TMPDIR, another container)\n", result.Stderr);
        }
        finally
        {
            sleep.Kill();
        }
    }

    [Fact]
    public void A_user_who_may_not_connect_to_the_process_gets_one_line_and_exit_code_2()
    {
        Assert.True(Environment.IsPrivilegedProcess, "this test runs asynclens as nobody against a process of root's: run it as root (as CI does)");
        using var attached = new AttachedProfile();
        var env = new Dictionary<string, string?> { ["HOME"] = Path.GetTempPath(), ["DOTNET_CLI_HOME"] = Path.GetTempPath() };
        var result = ChildProcess.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ChildProcess.DotnetPath(), Repo.Cli, "profile", "--pid", attached.PidText], env, timed: false);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"asynclens: no permission to connect to process {attached.Pid} (dotnet): its diagnostics channel is its user's; run asynclens as that user or as root\n", result.Stderr);
        attached.RunWorkload();
    }
}
