using System.Diagnostics;
using System.Globalization;
using System.Text;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// tests/Targets/WebReads running with no AsyncLens in it, its pid and address known: it can be sent traffic and have
/// long polls parked in its handler. Disposing it releases the long polls (each must then be answered) and stops it
/// with SIGTERM (it must exit 0): whatever read it from outside left it serving.
/// </summary>
internal sealed class ServingWebApp : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<Task<string>> _parked = [];

    public ServingWebApp(params string[] args)
    {
        var start = new ProcessStartInfo(ChildProcess.DotnetPath()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Repo.Program("WebReads"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        _process = Process.Start(start)!;
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await ChildProcess.ReadLinesAsync(_process.StandardOutput, _output, line =>
            {
                if (line.StartsWith("listening ", StringComparison.Ordinal))
                    listening.TrySetResult(line);
            });
            listening.TrySetException(new InvalidOperationException("WebReads ended before it listened:\n" + _output));
        });
        _ = Task.Run(() => ChildProcess.ReadLinesAsync(_process.StandardError, _output, _ => { }));
        if (!listening.Task.Wait(TimeSpan.FromSeconds(60)))
            throw new TimeoutException("WebReads did not listen in 60 s");
        var parts = listening.Task.Result.Split(' ');
        Pid = int.Parse(parts[1], CultureInfo.InvariantCulture);
        Http = new HttpClient { BaseAddress = new Uri(parts[2]), Timeout = TimeSpan.FromSeconds(120) };
    }

    public int Pid { get; }

    public string PidText => Pid.ToString(CultureInfo.InvariantCulture);

    public HttpClient Http { get; }

    /// <summary>Parks <paramref name="count"/> long polls (orders 1001, 1002, ...) in the handler, each on a connection of its own.</summary>
    public void Park(int count)
    {
        for (var i = 1; i <= count; i++)
            _parked.Add(Http.GetStringAsync($"/orders/{1000 + i}/updates"));
        var watch = Stopwatch.StartNew();
        while (Http.GetStringAsync("/parked").Result != count.ToString(CultureInfo.InvariantCulture))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{count} long polls were not parked within 30 s");
            Thread.Sleep(20);
        }
    }

    /// <summary>Requests <c>GET /orders/{id}</c> back to back until disposed; disposing checks that every answer was right.</summary>
    public IDisposable Traffic() => new Load(Http);

    public void Dispose()
    {
        try
        {
            Http.PostAsync("/release", null).Result.EnsureSuccessStatusCode();
            for (var i = 0; i < _parked.Count; i++)
                Assert.Equal($"order {1001 + i} changed", _parked[i].Result);
        }
        finally
        {
            Signals.Send("-TERM", Pid);
            var exited = _process.WaitForExit(TimeSpan.FromSeconds(30));
            if (!exited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            ChildProcess.WaitForOutput(_process);
            var code = _process.ExitCode;
            _process.Dispose();
            Http.Dispose();
            Assert.True(exited && code == 0, $"WebReads should have stopped cleanly on SIGTERM (exit {code}, exited {exited}):\n{_output}");
        }
    }

    private sealed class Load : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<int> _requests;

        public Load(HttpClient http) => _requests = Task.Run(async () =>
        {
            var served = 0;
            while (!_stop.IsCancellationRequested)
            {
                var id = served % 500 + 1;
                Assert.Equal($"order {id}", await http.GetStringAsync($"/orders/{id}"));
                served++;
            }
            return served;
        });

        public void Dispose()
        {
            _stop.Cancel();
            Assert.True(_requests.Result > 0, "no request was answered while the app was being read");
            _stop.Dispose();
        }
    }
}
