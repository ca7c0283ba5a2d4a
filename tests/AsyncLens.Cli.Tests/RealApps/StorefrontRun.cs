using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.RealApps;

/// <summary>
/// tests/RealApps/Storefront (an ASP.NET Core API on the private PostgreSQL and redis-server that counts its own async
/// calls) started as a child process, under <c>asynclens profile</c> or alone: a bounded load of requests on it, its
/// own count of calls and edges, and the profile's rows and edges to check against them.
/// </summary>
internal sealed partial class StorefrontRun : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<(int Pid, Uri Url)> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reading;

    /// <summary>Starts <paramref name="command"/> (dotnet and its arguments); <paramref name="newGroup"/>: in a process group of its own, as a terminal's job.</summary>
    public StorefrontRun(IReadOnlyList<string> command, bool newGroup = false)
    {
        var start = new ProcessStartInfo(newGroup ? "setsid" : command[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in newGroup ? command : command.Skip(1))
            start.ArgumentList.Add(arg);
        start.Environment["STORE_PG"] = Servers.Postgres;
        start.Environment["STORE_REDIS"] = Servers.Redis;
        foreach (var (name, value) in ProfileTests.Wide)
            start.Environment[name] = value;
        _process = Process.Start(start)!;
        _reading = Task.WhenAll(
            ChildProcess.ReadLinesAsync(_process.StandardOutput, _stdout, line =>
            {
                if (Listening().Match(line) is { Success: true } m)
                    _listening.TrySetResult((int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), new Uri(m.Groups[2].Value)));
            }),
            ChildProcess.ReadLinesAsync(_process.StandardError, _stderr, _ => { }));
        _ = _reading.ContinueWith(_ => _listening.TrySetException(new InvalidOperationException($"Storefront ended before it listened:\n{Output}")), TaskScheduler.Default);
        Assert.True(_listening.Task.Wait(TimeSpan.FromSeconds(90)), $"Storefront did not listen in 90 s:\n{Output}");
    }

    /// <summary>The started process (asynclens, or Storefront itself).</summary>
    public int Pid => _process.Id;

    /// <summary>Storefront's own process id.</summary>
    public int AppPid => _listening.Task.Result.Pid;

    public Uri Url => _listening.Task.Result.Url;

    public string Stdout
    {
        get
        {
            lock (_stdout)
                return _stdout.ToString();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public string Output => $"stdout:\n{Stdout}\nstderr:\n{Stderr}";

    /// <summary>
    /// A bounded load, a few requests at a time: single products (Redis, then PostgreSQL on a miss), prices (a
    /// dictionary hit returns without waiting), fan-outs (WhenAll started in a lambda's first step), pages (a database
    /// query beside an HTTP call through the app's own DelegatingHandler), restocks (Task.Run of an async lambda).
    /// </summary>
    public void Load()
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(60) };
        async Task Send(HttpMethod method, string path)
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path));
            Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode}\n{Output}");
        }
        for (var i = 0; i < 24; i++)
            Task.WhenAll(Send(HttpMethod.Get, $"/product/{i % 7}"), Send(HttpMethod.Get, $"/price/{i % 5}"), Send(HttpMethod.Get, $"/product/{(i + 3) % 7}")).Wait();
        for (var i = 0; i < 8; i++)
            Task.WhenAll(Send(HttpMethod.Get, $"/products?ids={i},{i + 1},{i + 2}"), Send(HttpMethod.Get, $"/page/{i}")).Wait();
        for (var i = 0; i < 4; i++)
            Task.WhenAll(Send(HttpMethod.Post, $"/restock/{i}"), Send(HttpMethod.Post, $"/restock/{i + 10}")).Wait();
    }

    public void ResetCounts()
    {
        using var http = new HttpClient { BaseAddress = Url };
        http.PostAsync("/calls/reset", null).Result.EnsureSuccessStatusCode();
    }

    public string Counts()
    {
        using var http = new HttpClient { BaseAddress = Url };
        return http.GetStringAsync("/calls").Result;
    }

    public int WaitForExit()
    {
        Assert.True(_process.WaitForExit(TimeSpan.FromSeconds(90)), $"did not exit in 90 s:\n{Output}");
        _reading.Wait(TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    /// <summary>The counts Storefront printed as it stopped.</summary>
    public string CountsAtStop()
    {
        var stdout = Stdout;
        var at = stdout.IndexOf("stopping\n", StringComparison.Ordinal);
        Assert.True(at >= 0, $"Storefront did not print its counts:\n{Output}");
        return stdout[(at + "stopping\n".Length)..];
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        ChildProcess.WaitForOutput(_process);
        _process.Dispose();
    }

    [GeneratedRegex(@"^listening (\d+) (\S+)$")]
    private static partial Regex Listening();
}

/// <summary>
/// Storefront's count of its own calls ("waited N NAME", "synchronous N NAME", "edge N CALLER -> CALLEE") checked against
/// a profile table: each method's calls that waited are the profile's CALLS + PENDING, each edge its CALLS, exactly.
/// </summary>
internal static class CallCounts
{
    public static Dictionary<string, int> Parse(string counts, string kind, Func<string, string> name)
    {
        var found = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in counts.Split('\n'))
        {
            var parts = line.Split(' ', 3);
            if (parts.Length == 3 && parts[0] == kind)
            {
                var key = kind is "edge" or "early" ? string.Join(" -> ", parts[2].Split(" -> ").Select(name)) : name(parts[2]);
                found[key] = int.Parse(parts[1], CultureInfo.InvariantCulture);
            }
        }
        return found;
    }

    /// <summary>The profile table's rows (calls + pending) and call graph edges (calls), by name.</summary>
    public static (Dictionary<string, int> Rows, Dictionary<string, int> Edges) ParseProfile(string table)
    {
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        var edges = new Dictionary<string, int>(StringComparer.Ordinal);
        var graph = false;
        foreach (var line in table.Split('\n'))
        {
            if (line.StartsWith("async call graph", StringComparison.Ordinal))
                graph = true;
            var cells = Regex.Split(line.Trim(), " {2,}");
            if (!graph && cells.Length == 10 && int.TryParse(cells[1], out var calls) && int.TryParse(cells[2], out var pending))
                rows[cells[0]] = calls + pending;
            else if (graph && cells.Length == 5 && int.TryParse(cells[2], out var edgeCalls))
                edges[$"{cells[0]} -> {cells[1]}"] = edgeCalls;
        }
        return (rows, edges);
    }

    /// <summary>
    /// Every method and edge the app counted is in the profile with the same count, and nothing of the app's beyond them;
    /// but an edge the app counted early (its callee ended before its caller first waited: no await took the pending callee
    /// in, so no event names its caller) may be short of those, under the caller the call was made in, or none; and its
    /// caller's calls may be short of them too (its await may have found the callee done and never waited).
    /// </summary>
    public static void Check(string counts, string table, Func<string, string> name, IReadOnlySet<string> notCounted)
    {
        var waited = Parse(counts, "waited", name);
        var edges = Parse(counts, "edge", name);
        var early = Parse(counts, "early", name);
        var profile = ParseProfile(table);
        var report = $"the app's counts:\n{counts}\nthe profile:\n{table}";
        Assert.True(waited.Count >= 10 && edges.Count >= 10, report);
        // A caller whose callee ended before it first waited may not have waited at all (its await found the callee
        // done): the app's count of it, from its context's changes, can be one more than the runtime's boxes.
        var earlyCaller = early.GroupBy(e => e.Key[..e.Key.IndexOf(" -> ", StringComparison.Ordinal)]).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        foreach (var (method, calls) in waited)
        {
            var found = profile.Rows.GetValueOrDefault(method);
            Assert.True(found <= calls && found >= calls - earlyCaller.GetValueOrDefault(method), $"{method}: the app counted {calls} calls that waited ({earlyCaller.GetValueOrDefault(method)} with an early callee), the profile {found}\n{report}");
        }
        var unlinked = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (edge, calls) in edges)
        {
            var found = profile.Edges.GetValueOrDefault(edge);
            var allowed = early.GetValueOrDefault(edge);
            Assert.True(found <= calls && found >= calls - allowed, $"{edge}: the app counted {calls} ({allowed} early), the profile {found}\n{report}");
            var callee = edge[(edge.IndexOf(" -> ", StringComparison.Ordinal) + 4)..];
            unlinked[callee] = unlinked.GetValueOrDefault(callee) + calls - found;
        }
        // Nothing else: no package or framework rows; no edge the app did not make, but an early callee's under another caller.
        Assert.Equal(waited.Keys.Concat(notCounted).Order(StringComparer.Ordinal), profile.Rows.Keys.Order(StringComparer.Ordinal));
        foreach (var (edge, calls) in profile.Edges)
        {
            if (edges.ContainsKey(edge) || notCounted.Any(n => edge.StartsWith(n + " -> ", StringComparison.Ordinal)))
                continue;
            var callee = edge[(edge.IndexOf(" -> ", StringComparison.Ordinal) + 4)..];
            Assert.True(calls <= unlinked.GetValueOrDefault(callee), $"{edge}: {calls} in the profile, not an edge the app made (nor one of its early callees)\n{report}");
            unlinked[callee] -= calls;
        }
    }
}
