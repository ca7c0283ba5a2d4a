using System.Diagnostics;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// The ways a read from outside can fail that need a live target: it dies while paused, asynclens may not
/// trace it, something else already traces it. Each is one line on stderr, nothing on stdout, exit code 2.
/// </summary>
public sealed partial class RemoteReadTests
{
    [Fact]
    public async Task A_process_that_dies_mid_read_gets_one_line_and_exit_code_2()
    {
        using var chains = new ParkedChains();
        // asynclens is frozen while it has the process stopped, and the process is killed under it.
        using var reader = FrozenReader.Start(chains, "ps", chains.PidText);
        chains.Kill();
        reader.Thaw();
        Assert.True(reader.Process.WaitForExit(TimeSpan.FromSeconds(60)), "asynclens did not finish after its target died");
        Assert.Equal(2, reader.Process.ExitCode);
        Assert.Equal("", await reader.Stdout);
        Assert.Matches($@"^asynclens: process {chains.Pid} exited (while it was being read|before it could be read)\n$", await reader.Stderr);
    }

    [Fact]
    public void A_user_who_may_not_trace_the_process_gets_one_line_and_exit_code_2()
    {
        // Run as root (as CI does): asynclens runs as nobody against a process of root's. Otherwise: against pid 1.
        if (Environment.IsPrivilegedProcess)
        {
            using var chains = new ParkedChains();
            var env = new Dictionary<string, string?> { ["HOME"] = Path.GetTempPath(), ["DOTNET_CLI_HOME"] = Path.GetTempPath() };
            var result = ChildProcess.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ChildProcess.DotnetPath(), Repo.Cli, "ps", chains.PidText], env, timed: false);
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("", result.Stdout);
            Assert.Equal($"asynclens: no permission to read process {chains.Pid} (dotnet): run asynclens as its user or as root "
                + "(and check /proc/sys/kernel/yama/ptrace_scope)\n", result.Stderr);
            Assert.Matches("^[SR] ", chains.State()); // never stopped
        }
        else
        {
            var owner = File.ReadLines("/proc/1/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1];
            Assert.True(owner == "0", "this test needs to run as root, or with a pid 1 owned by root");
            var result = Asynclens("ps", "1");
            Assert.Equal(2, result.ExitCode);
            Assert.Matches(@"^asynclens: no permission to read process 1 \(.+\): run asynclens as its user or as root \(and check /proc/sys/kernel/yama/ptrace_scope\)\n$", result.Stderr);
        }
    }

    [Fact]
    public void A_process_already_traced_is_refused_not_read_while_running()
    {
        using var chains = new ParkedChains();
        // Another tracer (as a debugger or strace would be): PTRACE_SEIZE from python, which leaves the process running.
        var seize = $$"""
            import ctypes, sys
            libc = ctypes.CDLL(None, use_errno=True)
            libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
            print(libc.ptrace(0x4206, {{chains.Pid}}, None, None), ctypes.get_errno(), flush=True)
            sys.stdin.read()
            """;
        var start = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(seize);
        using var tracer = Process.Start(start)!;
        try
        {
            Assert.Equal("0 0", tracer.StandardOutput.ReadLine());
            var result = Asynclens("pstree", chains.PidText);
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("", result.Stdout);
            Assert.Equal($"asynclens: process {chains.Pid} (dotnet) is already being traced by process {tracer.Id} (python3): "
                + "a debugger, strace or another asynclens; detach it and try again\n", result.Stderr);
        }
        finally
        {
            tracer.StandardInput.Close(); // the tracer exits: the kernel detaches it, and the chains run on
            tracer.WaitForExit(10_000);
        }
        Assert.Equal(0, chains.TracerPid());
    }
}
