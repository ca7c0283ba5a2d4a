using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// <c>ASYNCLENS_WATCH=1</c> with the startup hook in tests/Targets/Starvation: the watchdog inside sees the pool
/// starve and names where the blocked threads wait, from their own stacks; under the same load awaited it says nothing.
/// </summary>
public sealed class WatchHookTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Starvation"));

    [Fact]
    public void A_pool_starvation_is_an_incident_naming_where_the_threads_block()
    {
        using var target = new HookedProgram("starve");
        var go = target.Go();
        Assert.True(target.WaitForLine("asynclens watch: incident 1: ", TimeSpan.FromSeconds(30)), "no incident was written:\n" + target.Stderr);
        var lines = target.Stderr.Split('\n').Where(l => l.StartsWith("asynclens watch: ", StringComparison.Ordinal)).ToList();

        Assert.Equal(2, lines.Count);
        var began = Regex.Match(lines[0], @"^asynclens watch: incident 1 began (\S+): queue-stalled: (a work item queued to the thread pool \d+\.\d s ago has not run|[\d,]+ work items queued to the thread pool and none completed in a second)");
        Assert.True(began.Success, target.Stderr);
        Assert.Matches(@"^asynclens watch: incident 1: (\d+) threads? began a blocking wait on a task in the 2 s after it began: \1 in `Orders\.Total\(int\)` at "
            + Regex.Escape($"{s_at["starve.result"].File}:{s_at.Line("starve.result")}") + "$", lines[1]);
        var beganAt = DateTimeOffset.Parse(began.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.True(beganAt - go <= TimeSpan.FromSeconds(5), $"the incident began {(beganAt - go).TotalSeconds:0.0} s after the load did");
    }

    [Fact]
    public void The_same_load_awaited_is_no_incident()
    {
        using var target = new HookedProgram("healthy");
        target.Go();
        Thread.Sleep(TimeSpan.FromSeconds(5)); // the load runs: hundreds of orders a second, nothing blocked

        Assert.DoesNotContain("asynclens", target.Stderr, StringComparison.Ordinal);
        Assert.False(target.Exited, target.Stderr);
    }

    /// <summary>The target with the startup hook and ASYNCLENS_WATCH=1; its standard error read as it comes.</summary>
    private sealed class HookedProgram : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();

        public HookedProgram(string mode)
        {
            var start = TargetRuntime.Net10.StartInfo();
            start.RedirectStandardInput = true;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            start.ArgumentList.Add(Repo.Program("Starvation"));
            start.ArgumentList.Add(mode);
            start.Environment["DOTNET_STARTUP_HOOKS"] = Repo.Engine;
            start.Environment["ASYNCLENS_WATCH"] = "1";
            foreach (var name in new[] { "ASYNCLENS_DEBUG", "ASYNCLENS_PROFILE", "ASYNCLENS_WATCH_OUTPUT" })
                start.Environment.Remove(name);
            _process = Process.Start(start)!;
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = Task.Run(async () =>
            {
                await ChildProcess.ReadLinesAsync(_process.StandardOutput, _stdout, line =>
                {
                    if (line.StartsWith("ready ", StringComparison.Ordinal))
                        ready.TrySetResult();
                });
                ready.TrySetException(new InvalidOperationException("Starvation ended before it was ready:\n" + _stdout + _stderr));
            });
            _ = Task.Run(() => ChildProcess.ReadLinesAsync(_process.StandardError, _stderr, _ => { }));
            Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(60)), "Starvation did not start in 60 s");
        }

        public string Stderr
        {
            get
            {
                lock (_stderr)
                    return _stderr.ToString();
            }
        }

        public bool Exited => _process.HasExited;

        public DateTimeOffset Go()
        {
            var at = DateTimeOffset.UtcNow;
            _process.StandardInput.WriteLine("go");
            _process.StandardInput.Flush();
            return at;
        }

        public bool WaitForLine(string start, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!Stderr.Split('\n').Any(l => l.StartsWith(start, StringComparison.Ordinal)))
            {
                if (DateTime.UtcNow > deadline || _process.HasExited)
                    return false;
                Thread.Sleep(100);
            }
            return true;
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
}
