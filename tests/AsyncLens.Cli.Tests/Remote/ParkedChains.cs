using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// tests/Targets/Chains in its <c>outside</c> mode (on .NET 10 unless said), running with no AsyncLens in it: its
/// chains parked, its pid known. Disposing it releases the chains with a line on its stdin and checks that it then
/// finishes normally: whatever read it from outside left it running.
/// </summary>
internal sealed class ParkedChains : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Task _stdout;
    private readonly string _program;
    private bool _killed;

    /// <param name="runtime">The runtime it runs on (.NET 10 when null).</param>
    /// <param name="program">The target (tests/Targets/Chains, or another with the same <c>outside</c> mode).</param>
    public ParkedChains(TargetRuntime? runtime = null, string program = "Chains")
    {
        _program = program;
        var start = (runtime ?? TargetRuntime.Net10).StartInfo();
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.ArgumentList.Add(Repo.Program(program));
        start.ArgumentList.Add("outside");
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        _process = Process.Start(start)!;
        var parked = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _stdout = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_process.StandardOutput, _output, line =>
            {
                if (line.StartsWith("parked ", StringComparison.Ordinal))
                    parked.TrySetResult(int.Parse(line["parked ".Length..], CultureInfo.InvariantCulture));
            });
            parked.TrySetException(new InvalidOperationException($"{program} ended before it parked:\n{_output}"));
        });
        if (!parked.Task.Wait(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"{program} did not park in 60 s");
        Pid = parked.Task.Result;
    }

    public int Pid { get; }

    public string PidText => Pid.ToString(CultureInfo.InvariantCulture);

    /// <summary>The kernel's word for the process's state: S (sleeping), R (running), t (stopped by a tracer)...</summary>
    public string State() => Status("State:") ?? "?";

    /// <summary>The process that has it ptrace-attached (0: none; -1: it is gone).</summary>
    public int TracerPid() => int.TryParse(Status("TracerPid:"), CultureInfo.InvariantCulture, out var tracer) ? tracer : -1;

    /// <summary>True when every thread of it is ptrace-attached by <paramref name="tracer"/> (and so stopped).</summary>
    public bool AllThreadsTracedBy(int tracer)
    {
        try
        {
            var threads = Directory.GetDirectories($"/proc/{Pid}/task");
            return threads.Length > 0 && threads.All(t => File.ReadLines($"{t}/status").Any(l => l == $"TracerPid:\t{tracer.ToString(CultureInfo.InvariantCulture)}"));
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Ends it with SIGKILL (a test that wants it to die mid-read); disposing then checks nothing.</summary>
    public void Kill()
    {
        _killed = true;
        _process.Kill();
    }

    private string? Status(string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return line[field.Length..].Trim();
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>Releases the chains; the program must then finish by itself, with "done" and exit code 0.</summary>
    public void Dispose()
    {
        if (_killed)
        {
            _process.WaitForExit(TimeSpan.FromSeconds(10));
            ChildProcess.WaitForOutput(_process);
            _process.Dispose();
            return;
        }
        try
        {
            _process.StandardInput.WriteLine("go");
            _process.StandardInput.Flush();
        }
        catch (IOException)
        {
        }
        var exited = _process.WaitForExit(TimeSpan.FromSeconds(30));
        if (!exited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        ChildProcess.WaitForOutput(_process);
        _stdout.Wait(TimeSpan.FromSeconds(10));
        var code = _process.ExitCode;
        _process.Dispose();
        Assert.True(exited && code == 0 && _output.ToString().EndsWith("done\n", StringComparison.Ordinal),
            $"after being read, {_program} should have run to its end (exit {code}, exited {exited}):\n{_output}");
    }
}
