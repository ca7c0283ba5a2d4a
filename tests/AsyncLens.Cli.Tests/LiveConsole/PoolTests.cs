using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// tests/Targets/Jobs <c>starve</c> under debug mode and the console: every thread-pool worker (its maximum set to its
/// minimum) blocked with <c>.Result</c> on a parked async method, a work item queued behind them. One process for
/// the facts of <see cref="PoolTests"/>.
/// </summary>
public sealed class StarvedJobs : IDisposable
{
    internal ConsoledApp App { get; } = new(["starve"], new Dictionary<string, string?>
    {
        ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_CONSOLE"] = "1", ["ASYNCLENS_DEBUG"] = "1",
    });

    /// <summary>The pool's workers, all blocked (the target's "starving N").</summary>
    internal int Workers => int.Parse(Regex.Match(App.Output, @"starving (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

    public void Dispose()
    {
        App.Release();
        App.Dispose();
    }
}

/// <summary>
/// The console's <c>pool</c> and <c>threads</c>: the pool's figures from .NET's public API, starvation judged by the
/// doctor's rule, and what debug mode saw each blocked worker wait on (the line, the task, the stack as the wait began).
/// </summary>
[Collection(ConsoledApp.Collection)]
public sealed class PoolTests(StarvedJobs starved) : IClassFixture<StarvedJobs>
{
    private static string At(string tag) => ConsoleTests.At(tag);

    private string Blocked => $"blocked (.Result) in `Starve.Block(Task, CountdownEvent)` at {At("jobs.starve.block")} waiting for `Starve.CountAsync(Task)`, parked at {At("jobs.starve.count")} on TaskCompletionSource";

    // The workers are blocked a moment after the target says so: ask until the pool says starved.
    private string Pool()
    {
        var text = "";
        for (var i = 0; i < 50 && !text.Contains("\npool-starvation:", StringComparison.Ordinal); i++)
        {
            if (i > 0)
                Thread.Sleep(100);
            var pool = starved.App.Console("pool");
            Assert.True(pool.ExitCode == 0, pool.ToString());
            text = pool.Stdout;
        }
        return text;
    }

    [Fact]
    public void Pool_says_starved_by_the_doctors_rule_and_what_the_blocked_workers_share()
    {
        var n = starved.Workers.ToString(CultureInfo.InvariantCulture);
        var lines = Pool().TrimEnd('\n').Split('\n');
        Assert.Matches($@"^asynclens: the thread pool \(pid {starved.App.PidText}, 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$", lines[0]);
        Assert.Equal("", lines[1]);
        Assert.Matches($@"^workers: {n} \(min \d+, max {n}\): {n} busy, 0 idle; of the busy, 0 running on a processor, {n} waiting$", lines[2]);
        Assert.Matches(@"^queued: 1 work item; completed: [\d,]+$", lines[3]);
        Assert.Equal("added above the minimum: 0 (for starvation or for throughput: .NET's public API does not say which)", lines[4]);
        Assert.Equal($"pool-starvation: {n} of {n} pool threads blocked; 1 work item queued", lines[5]);
        Assert.Equal(["", "busy workers, by what they do (most first):"], lines[6..8]);
        Assert.Matches($@"^  {n} threads \(\d+(, \d+)*\) {Regex.Escape(Blocked)}$", lines[8]);
        Assert.Matches(@"^    stack of thread \d+ as its wait began \(top first\):$", lines[9]);
        // The stack from the runtime's wait down to the worker's start, the user's frames with their lines.
        Assert.Equal("      Task<TResult>.GetResultCore(bool)", lines.First(l => l.Contains("GetResultCore", StringComparison.Ordinal)));
        Assert.Equal(
            [$"      Starve.Block(Task, CountdownEvent) at {At("jobs.starve.block")}", $"      Starve.Start lambda at Starve.cs:{ConsoleTests.Markers.Line("jobs.starve.queue")} at {At("jobs.starve.queue")}"],
            lines[10..].Where(l => l.Contains(" at /", StringComparison.Ordinal)));
        Assert.Equal("      PortableThreadPool.WorkerThread.WorkerThreadStart()", lines[^2]);

        using var json = JsonDocument.Parse(starved.App.Console("pool", "--format", "json").Stdout);
        var result = json.RootElement.GetProperty("result");
        Assert.True(result.GetProperty("starved").GetBoolean());
        Assert.Equal(starved.Workers, result.GetProperty("waiting").GetInt32());
        var group = result.GetProperty("groups")[0];
        Assert.Equal(starved.Workers, group.GetProperty("threads").GetArrayLength());
        Assert.Equal(".Result", group.GetProperty("blocked").GetProperty("how").GetString());
        Assert.Equal(ConsoleTests.Markers["jobs.starve.block"].File, group.GetProperty("blocked").GetProperty("file").GetString());
        Assert.Equal(ConsoleTests.Markers["jobs.starve.block"].Line, group.GetProperty("blocked").GetProperty("line").GetInt32());
    }

    [Fact]
    public void Threads_lists_each_thread_and_the_task_each_blocked_worker_waits_for()
    {
        Pool();
        using var ps = JsonDocument.Parse(starved.App.Console("ps", "--format", "json").Stdout);
        var counting = ps.RootElement.GetProperty("result").GetProperty("tasks").EnumerateArray()
            .Where(t => t.GetProperty("method").GetString() == "Starve.CountAsync(Task)").Select(t => t.GetProperty("id").GetInt64()).Order().ToList();
        var threads = starved.App.Console("threads");
        Assert.True(threads.ExitCode == 0, threads.ToString());
        var lines = threads.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches($@"^asynclens: \d+ threads, {starved.Workers} in the thread pool, {starved.Workers} blocked on a task \(pid {starved.App.PidText}, 20", lines[0]);
        Assert.Matches(@"^OS ID +ID +NAME +STATE +RUNS$", lines[2]);
        Assert.Matches($@"^{starved.App.PidText} +1 +dotnet \(main\) +waiting +-$", lines[3]);
        var workers = lines.Where(l => l.Contains(".NET TP Worker", StringComparison.Ordinal)).ToList();
        Assert.Equal(starved.Workers, workers.Count);
        foreach (var row in workers)
            Assert.Matches($@"^\d+ +\d+ +\.NET TP Worker +waiting +{Regex.Escape(Blocked)} \(task \d+\)$", row);
        // The tasks they wait for are the ones ps lists, one each.
        Assert.Equal(counting, workers.Select(row => long.Parse(Regex.Match(row, @"\(task (\d+)\)$").Groups[1].Value, CultureInfo.InvariantCulture)).Order());
        Assert.Equal("stacks: code inside a .NET process cannot read another thread's stack; asynclens threads PID reads them all from outside (the app stops for tens of milliseconds)", lines[^1]);
    }

    [Fact]
    public void Without_debug_mode_pool_still_judges_starvation_and_says_what_it_needs_for_the_rest()
    {
        using var app = new ConsoledApp(["starve"]);
        var text = "";
        for (var i = 0; i < 50 && !text.Contains("\npool-starvation:", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(100);
            text = app.Console("pool").Stdout;
        }
        Assert.Contains("\npool-starvation: ", text);
        Assert.EndsWith("\n\nwhat the busy workers do: what each thread runs and the task it is blocked on are known in debug mode only: start the app with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)\n", text);

        // asynclens top's warnings panel: the pool's verdict; no ages, so no "pending past", and it says why; sorted by id.
        var top = ChildProcess.Dotnet([Repo.Cli, "top", app.PidText], timed: false);
        Assert.True(top.ExitCode == 0, top.ToString());
        var frame = top.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches($@"^Jobs \(pid {app.PidText}\): \d+ pending tasks, \d\d:\d\d:\d\d UTC, sort: id$", frame[0]);
        Assert.Matches("^ID +STATE +METHOD +PARKED AT$", frame[1]);
        var n = Regex.Match(app.Output, @"starving (\d+)").Groups[1].Value;
        Assert.Equal(
            ["warnings:", "  pending past 10 s, hung steps: need debug mode (asynclens run --console)", $"  pool-starvation: {n} of {n} pool threads blocked; 1 work item queued"],
            frame[^3..]);
        Assert.Equal(0, app.Release());
    }

    [Fact]
    public void Top_warns_of_the_starvation_the_pool_judges()
    {
        Pool();
        var top = ChildProcess.Dotnet([Repo.Cli, "top", starved.App.PidText, "--pending-limit", "600"], timed: false);
        Assert.True(top.ExitCode == 0, top.ToString());
        var n = starved.Workers.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(["warnings:", $"  pool-starvation: {n} of {n} pool threads blocked; 1 work item queued"], top.Stdout.TrimEnd('\n').Split('\n')[^2..]);
    }
}
