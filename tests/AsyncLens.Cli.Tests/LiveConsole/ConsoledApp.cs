using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// tests/Targets/Jobs running as a child process with its console on (the startup hook and ASYNCLENS_CONSOLE=1 unless
/// <paramref name="env"/> says otherwise), until disposed: its pid from its <c>ready PID</c> line, <see cref="Release"/> to
/// let it finish, and <see cref="Console"/> to run <c>asynclens console PID ...</c> against it.
/// </summary>
internal sealed class ConsoledApp : IDisposable
{
    /// <summary>
    /// The console tests run one at a time: every agent that starts makes its user's directory 0700 again, and the
    /// security test opens it up for a moment on purpose.
    /// </summary>
    public const string Collection = "live console";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="viaRun">Started as <c>asynclens run --console -- Jobs.dll</c> (debug mode and the console) instead.</param>
    public ConsoledApp(string[]? args = null, IDictionary<string, string?>? env = null, bool viaRun = false)
    {
        var start = new ProcessStartInfo(ChildProcess.DotnetPath())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (viaRun)
        {
            foreach (var arg in new[] { Repo.Cli, "run", "--console", "--" })
                start.ArgumentList.Add(arg);
        }
        start.ArgumentList.Add(Repo.Program("Jobs"));
        foreach (var arg in args ?? [])
            start.ArgumentList.Add(arg);
        foreach (var name in new[] { "DOTNET_STARTUP_HOOKS", "ASYNCLENS_DEBUG", "ASYNCLENS_TASKS", "ASYNCLENS_CONSOLE", "ASYNCLENS_OUTPUT" })
            start.Environment.Remove(name);
        ChildProcess.SetEnvironment(start, env ?? (viaRun ? new Dictionary<string, string?>() : new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1" }));
        _process = Process.Start(start)!;
        _ = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_process.StandardOutput, _output, line =>
            {
                if (line.StartsWith("ready ", StringComparison.Ordinal))
                    _ready.TrySetResult(int.Parse(line[6..], CultureInfo.InvariantCulture));
            });
            _ready.TrySetException(new InvalidOperationException("Jobs ended before it was ready:\n" + Output));
        });
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(_process.StandardError, _output, _ => { }));
        if (!_ready.Task.Wait(TimeSpan.FromSeconds(60)))
            throw new TimeoutException("Jobs was not ready in 60 s:\n" + Output);
        Pid = _ready.Task.Result;
    }

    public int Pid { get; }

    public string PidText => Pid.ToString(CultureInfo.InvariantCulture);

    /// <summary>What it wrote so far, standard output and error.</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary><c>asynclens console PID args...</c>, as a user runs it.</summary>
    public ProcessResult Console(params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, "console", PidText, .. args], timed: false);

    /// <summary>Writes a line to its standard input ("answer", "decline": see its Program.cs).</summary>
    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Lets it finish (its waits are released) and returns its exit code.</summary>
    public int Release()
    {
        _process.StandardInput.WriteLine();
        _process.StandardInput.Flush();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60)))
            throw new TimeoutException("Jobs did not finish in 60 s after its release:\n" + Output);
        _process.WaitForExit();
        ChildProcess.WaitForOutput(_process); // its last lines may still be in the readers when it has exited
        return _process.ExitCode;
    }

    /// <summary>Waits until it has written <paramref name="text"/>.</summary>
    public void WaitFor(string text)
    {
        for (var i = 0; i < 300 && !Output.Contains(text, StringComparison.Ordinal); i++)
            Thread.Sleep(100);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        ChildProcess.WaitForOutput(_process);
        _process.Dispose();
    }
}
