using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// tests/Targets/Starvation MODE (nothing of AsyncLens in it) and <c>asynclens watch PID args</c> attached to it: the
/// constructor returns once asynclens says it is watching; <see cref="Go"/> starts the target's load. Disposing kills
/// whatever still runs.
/// </summary>
internal sealed class WatchedProgram : IDisposable
{
    private readonly Process _target;
    private readonly Process _watch;
    private readonly StringBuilder _targetOutput = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _stdoutRead;
    private readonly Task _stderrRead;

    public WatchedProgram(string mode, params string[] watchArgs)
    {
        var start = TargetRuntime.Net10.StartInfo();
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.ArgumentList.Add(Repo.Program("Starvation"));
        start.ArgumentList.Add(mode);
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        _target = Process.Start(start)!;
        var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_target.StandardOutput, _targetOutput, line =>
            {
                if (line.StartsWith("ready ", StringComparison.Ordinal))
                    ready.TrySetResult(int.Parse(line["ready ".Length..], CultureInfo.InvariantCulture));
            });
            ready.TrySetException(new InvalidOperationException("Starvation ended before it was ready:\n" + _targetOutput));
        });
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(_target.StandardError, _targetOutput, _ => { }));
        Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(60)), "Starvation did not start in 60 s");
        Pid = ready.Task.Result;

        var cli = TargetRuntime.Net10.StartInfo();
        cli.RedirectStandardOutput = true;
        cli.RedirectStandardError = true;
        foreach (var arg in (string[])[Repo.Cli, "watch", Pid.ToString(CultureInfo.InvariantCulture), .. watchArgs])
            cli.ArgumentList.Add(arg);
        _watch = Process.Start(cli)!;
        var watching = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stdoutRead = Task.Run(() => ChildProcess.ReadLinesAsync(_watch.StandardOutput, _stdout, _ => { }));
        _stderrRead = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_watch.StandardError, _stderr, line =>
            {
                if (line.StartsWith("asynclens: watching process ", StringComparison.Ordinal))
                    watching.TrySetResult();
            });
            watching.TrySetResult();
        });
        Assert.True(watching.Task.Wait(TimeSpan.FromSeconds(60)), "asynclens watch did not start in 60 s");
        Assert.False(_watch.HasExited, "asynclens watch ended at once:\n" + _stderr);
    }

    public int Pid { get; }

    /// <summary>What asynclens watch wrote to standard output so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_stdout)
                return _stdout.ToString();
        }
    }

    /// <summary>Starts the target's load; returns when it was asked to.</summary>
    public DateTimeOffset Go()
    {
        var at = DateTimeOffset.UtcNow;
        _target.StandardInput.WriteLine("go");
        _target.StandardInput.Flush();
        return at;
    }

    /// <summary>Waits (polling) until standard output holds <paramref name="text"/>.</summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline || _watch.HasExited)
                return Stdout.Contains(text, StringComparison.Ordinal);
            Thread.Sleep(100);
        }
        return true;
    }

    /// <summary>The target's state letter in /proc (R, S, ... T when stopped), null once it is gone.</summary>
    public char? TargetState()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{Pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0];
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void KillTarget()
    {
        _target.Kill();
        _target.WaitForExit();
    }

    /// <summary>
    /// Stops asynclens watch as a service manager does (SIGTERM, handled as Ctrl+C is), and waits for it to finish. Not
    /// SIGINT: a test run started in the background (<c>cmd &amp;</c>) has SIGINT ignored, and its children inherit that.
    /// </summary>
    public ProcessResult Stop()
    {
        Signals.Send("-TERM", _watch.Id);
        return WaitForWatch();
    }

    public ProcessResult WaitForWatch()
    {
        Assert.True(_watch.WaitForExit(TimeSpan.FromSeconds(60)), "asynclens watch did not finish in 60 s");
        Task.WaitAll([_stdoutRead, _stderrRead], TimeSpan.FromSeconds(10));
        lock (_stderr)
            return new ProcessResult(_watch.ExitCode, Stdout, _stderr.ToString());
    }

    public void Dispose()
    {
        foreach (var process in new[] { _watch, _target })
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit();
            ChildProcess.WaitForOutput(process);
            process.Dispose();
        }
    }
}
