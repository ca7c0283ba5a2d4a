using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// A target that gets itself stuck (tests/Targets/Deadlocks MODE), with no AsyncLens in it: its pid is known once it
/// printed <c>stuck PID</c>. Disposing it kills it (a deadlocked program does not end by itself).
/// </summary>
internal sealed class StuckProgram : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public StuckProgram(string program, params string[] args)
        : this(program, "Debug", args)
    {
    }

    /// <summary>The program as built in <paramref name="configuration"/> (built in both: tests/RealApps/RealApps.targets).</summary>
    public StuckProgram(string program, string configuration, string[] args)
    {
        var start = TargetRuntime.Net10.StartInfo();
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.ArgumentList.Add(Repo.Program(program, configuration));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        _process = Process.Start(start)!;
        var stuck = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_process.StandardOutput, _output, line =>
            {
                if (line.StartsWith("stuck ", StringComparison.Ordinal))
                    stuck.TrySetResult(int.Parse(line["stuck ".Length..], CultureInfo.InvariantCulture));
            });
            stuck.TrySetException(new InvalidOperationException($"{program} ended before it got stuck:\n{_output}"));
        });
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(_process.StandardError, _output, _ => { }));
        if (!stuck.Task.Wait(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"{program} did not get stuck in 60 s");
        Pid = stuck.Task.Result;
    }

    public int Pid { get; }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        ChildProcess.WaitForOutput(_process);
        _process.Dispose();
    }
}
