using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AsyncLens.Testing;

/// <summary>
/// A real application (tests/RealApps, built in <c>Debug</c> or <c>Release</c>) running as a child process until
/// disposed: started with the environment given (nothing of AsyncLens unless asked), its pid and URL read from its
/// <c>listening PID URL</c> line, requests sent to it the way curl sends them (a connection each), ended with
/// SIGTERM. Disposing checks nothing: a test asserts on what it read.
/// </summary>
internal sealed class RunningApp : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http;
    private readonly List<Task> _requests = [];

    public RunningApp(string project, string configuration, IDictionary<string, string?>? env = null, TargetRuntime? runtime = null)
    {
        Runtime = runtime ?? TargetRuntime.Net10;
        var start = Runtime.StartInfo();
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.ArgumentList.Add(Repo.Program(project, configuration));
        foreach (var name in new[] { "DOTNET_STARTUP_HOOKS", "ASYNCLENS_DEBUG", "ASYNCLENS_TASKS", "ASYNCLENS_OUTPUT", "ASYNCLENS_DUMP_FORMAT" })
            start.Environment.Remove(name);
        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
            start.Environment[name] = value;
        _process = Process.Start(start)!;
        var listening = new TaskCompletionSource<(int, Uri)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_process.StandardOutput, _output, line =>
            {
                if (line.StartsWith("listening ", StringComparison.Ordinal) && line.Split(' ') is [_, var pid, var url])
                    listening.TrySetResult((int.Parse(pid, CultureInfo.InvariantCulture), new Uri(url)));
            });
            listening.TrySetException(new InvalidOperationException($"{project} ended before it listened:\n{Output}"));
        });
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(_process.StandardError, _output, _ => { }));
        if (!listening.Task.Wait(TimeSpan.FromSeconds(90)))
            throw new TimeoutException($"{project} did not listen in 90 s:\n{Output}");
        (Pid, Url) = listening.Task.Result;
        _http = new HttpClient { BaseAddress = Url, Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.ConnectionClose = true;
    }

    public int Pid { get; }

    /// <summary>The runtime it runs on (.NET 10 unless said).</summary>
    public TargetRuntime Runtime { get; }

    public string PidText => Pid.ToString(CultureInfo.InvariantCulture);

    public Uri Url { get; }

    /// <summary>What it wrote so far, standard output and error.</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>Sends a request and waits for its answer.</summary>
    public async Task<string> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return await response.EnsureSuccessStatusCode().Content.ReadAsStringAsync();
    }

    public async Task PostAsync(string path) => (await _http.PostAsync(path, null)).EnsureSuccessStatusCode().Dispose();

    /// <summary>Sends a request and leaves it in flight (a request the app holds).</summary>
    public void Start(string path) => Send(path);

    /// <summary>Sends a request: the task completes when it is answered.</summary>
    public Task Send(string path)
    {
        var request = _http.GetAsync(path);
        lock (_requests)
            _requests.Add(request);
        return request;
    }

    /// <summary>Drops the requests still in flight (their handlers see the client gone), then ends the app with SIGTERM.</summary>
    public void Dispose()
    {
        _http.Dispose();
        if (!_process.HasExited)
            Signals.Send("-TERM", _process.Id);
        if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        ChildProcess.WaitForOutput(_process);
        _process.Dispose();
    }
}
