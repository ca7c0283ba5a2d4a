using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.RealApps;

/// <summary><c>asynclens profile --pid PID [args]</c> on a process the test started: returns once it profiles; <see cref="Interrupt"/> is Ctrl+C.</summary>
internal sealed class AttachedProcessProfile : IDisposable
{
    private readonly Process _cli;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _reading;

    public AttachedProcessProfile(int pid, params string[] args)
    {
        var start = new ProcessStartInfo(ChildProcess.DotnetPath()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Repo.Cli, "profile", "--pid", pid.ToString(CultureInfo.InvariantCulture) }.Concat(args))
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in ProfileTests.Wide)
            start.Environment[name] = value;
        _cli = Process.Start(start)!;
        var profiling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reading = Task.WhenAll(
            ChildProcess.ReadLinesAsync(_cli.StandardOutput, _stdout, _ => { }),
            ChildProcess.ReadLinesAsync(_cli.StandardError, _stderr, line =>
            {
                if (line.StartsWith("asynclens: profiling process ", StringComparison.Ordinal))
                    profiling.TrySetResult();
            }));
        _ = _reading.ContinueWith(_ => profiling.TrySetResult(), TaskScheduler.Default);
        Assert.True(profiling.Task.Wait(TimeSpan.FromSeconds(60)), "asynclens did not start profiling in 60 s");
        Assert.False(_cli.HasExited && _cli.ExitCode != 0, _stderr.ToString());
    }

    /// <summary>Ctrl+C to asynclens; waits for it to write the profile and exit.</summary>
    public ProcessResult Interrupt()
    {
        Signals.Send("-INT", _cli.Id);
        Assert.True(_cli.WaitForExit(TimeSpan.FromSeconds(60)), "asynclens did not finish in 60 s");
        _reading.Wait(TimeSpan.FromSeconds(10));
        lock (_stderr)
            return new ProcessResult(_cli.ExitCode, _stdout.ToString(), _stderr.ToString());
    }

    public void Dispose()
    {
        if (!_cli.HasExited)
            _cli.Kill();
        _cli.WaitForExit();
        ChildProcess.WaitForOutput(_cli);
        _cli.Dispose();
    }
}
