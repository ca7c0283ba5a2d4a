using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>
/// tests/Targets/Profiled in its <c>attach</c> mode, started with nothing of AsyncLens (no startup hook), and
/// <c>asynclens profile --pid</c> on it: <see cref="Start"/> returns once asynclens says it is profiling; then
/// <see cref="RunWorkload"/> has the target run its known-timing workload, and the test ends the profile its own way
/// (Ctrl+C, the target's exit, a kill, --duration). Disposing kills whatever still runs.
/// </summary>
internal sealed class AttachedProfile : IDisposable
{
    private readonly Process _target;
    private readonly TaskCompletionSource<int> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _targetOutput = new();
    private Process? _cli;
    private Task<string>? _cliStdout;
    private readonly StringBuilder _cliStderr = new();
    private readonly TaskCompletionSource _profiling = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _cliStderrRead;
    private readonly TargetRuntime _runtime;

    /// <param name="runtime">Where the target and asynclens run: .NET 10 unless said.</param>
    public AttachedProfile(TargetRuntime? runtime = null)
    {
        _runtime = runtime ?? TargetRuntime.Net10;
        var start = Start([Repo.Program("Profiled"), "attach"], stdin: true);
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("ASYNCLENS_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        _target = Process.Start(start)!;
        _ = _target.StandardError.ReadToEndAsync();
        _ = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_target.StandardOutput, _targetOutput, line =>
            {
                if (line.StartsWith("ready ", StringComparison.Ordinal))
                    _ready.TrySetResult(int.Parse(line["ready ".Length..], CultureInfo.InvariantCulture));
                if (line == "done")
                    _done.TrySetResult();
            });
            _ready.TrySetException(new InvalidOperationException("Profiled ended before it was ready:\n" + _targetOutput));
            _done.TrySetException(new InvalidOperationException("Profiled ended before its workload was done:\n" + _targetOutput));
        });
        Assert.True(_ready.Task.Wait(TimeSpan.FromSeconds(60)), "Profiled did not start in 60 s");
        Pid = _ready.Task.Result;
    }

    public int Pid { get; }

    public string PidText => Pid.ToString(CultureInfo.InvariantCulture);

    /// <summary>True when an AsyncLens assembly is mapped in the target (it must never be).</summary>
    public bool LoadedAsyncLens => File.ReadAllText($"/proc/{Pid}/maps").Contains("AsyncLens", StringComparison.Ordinal);

    public bool TargetExited => _target.HasExited;

    /// <summary>Starts <c>asynclens profile --pid PID args</c>; returns once it says it is profiling.</summary>
    public void StartProfiler(params string[] args)
    {
        var start = Start([Repo.Cli, "profile", "--pid", PidText, .. args], stdin: false);
        foreach (var (name, value) in ProfileTests.Wide)
            start.Environment[name] = value;
        _cli = Process.Start(start)!;
        _cliStdout = _cli.StandardOutput.ReadToEndAsync();
        _cliStderrRead = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_cli.StandardError, _cliStderr, line =>
            {
                if (line.StartsWith("asynclens: profiling process ", StringComparison.Ordinal))
                    _profiling.TrySetResult();
            });
            _profiling.TrySetResult();
        });
        Assert.True(_profiling.Task.Wait(TimeSpan.FromSeconds(60)), "asynclens did not start profiling in 60 s");
    }

    /// <summary>Has the target run its workload, and waits until it is done (about 2.3 s).</summary>
    public void RunWorkload()
    {
        Go();
        Assert.True(_done.Task.Wait(TimeSpan.FromSeconds(60)), "Profiled's workload did not finish in 60 s");
    }

    /// <summary>Writes the line the target waits for (the first starts the workload, the second ends it).</summary>
    public void Go()
    {
        _target.StandardInput.WriteLine("go");
        _target.StandardInput.Flush();
    }

    /// <summary>Lets the target exit (its second line) and waits for it.</summary>
    public void EndTarget()
    {
        Go();
        Assert.True(_target.WaitForExit(TimeSpan.FromSeconds(30)), "Profiled did not exit");
    }

    public void KillTarget() => _target.Kill();

    /// <summary>Ctrl+C to asynclens.</summary>
    public void Interrupt() => Signals.Send("-INT", _cli!.Id);

    /// <summary>Waits for asynclens to finish: its exit code and what it wrote.</summary>
    public ProcessResult WaitForProfiler()
    {
        Assert.True(_cli!.WaitForExit(TimeSpan.FromSeconds(60)), "asynclens did not finish in 60 s");
        _cliStderrRead!.Wait(TimeSpan.FromSeconds(10));
        lock (_cliStderr)
            return new ProcessResult(_cli.ExitCode, _cliStdout!.Result, _cliStderr.ToString());
    }

    public void Dispose()
    {
        foreach (var process in new[] { _cli, _target })
        {
            if (process is null)
                continue;
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit();
            ChildProcess.WaitForOutput(process);
            process.Dispose();
        }
    }

    private ProcessStartInfo Start(string[] args, bool stdin)
    {
        var start = _runtime.StartInfo();
        start.RedirectStandardInput = stdin;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        return start;
    }
}
