using System.Globalization;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>
/// <c>asynclens watch PID</c> attached to tests/Targets/Starvation before its load starts: a pool starvation is one
/// incident, diagnosed by the doctor within 5 s of the load's start, written once, the process never left stopped;
/// the same load awaited (healthy) is no incident. SIGTERM (as Ctrl+C) ends watch with exit code 0.
/// </summary>
public sealed class WatchTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Starvation"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at.Line(tag)}";

    [Fact]
    public void A_pool_starvation_begun_while_watched_is_one_incident_diagnosed_within_5_s()
    {
        using var watched = new WatchedProgram("starve");
        var go = watched.Go();
        Assert.True(watched.WaitForOutput("\nlooked at: ", TimeSpan.FromSeconds(30)), "no incident was diagnosed:\n" + watched.Stdout);
        // The starvation goes on: its signals keep coming, and must not be written as new incidents.
        Thread.Sleep(TimeSpan.FromSeconds(4));
        Assert.NotEqual('T', watched.TargetState());
        var result = watched.Stop();

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Single(lines, l => l.StartsWith("incident ", StringComparison.Ordinal));
        var began = Regex.Match(lines[0], @"^incident 1 began (\S+): starvation: the thread pool added a thread \(now \d+\) (because queued work was not progressing|for threads blocked on tasks)$");
        Assert.True(began.Success, result.ToString());
        var diagnosed = Regex.Match(lines[1], @"^diagnosed (\S+), \d+\.\d s after it began:$");
        Assert.True(diagnosed.Success, result.ToString());
        Assert.StartsWith($"asynclens doctor: pool-starvation (pid {watched.Pid}, ", lines[2]);
        // A thread caught spinning before it blocks (Task.SpinThenBlockingWait) is not linked to its task yet: a group apart.
        Assert.Matches(@"^pool-starvation: (\d+) of \d+ pool threads blocked(; \d+)? in `Orders\.Total\(int\)` at " + Regex.Escape(At("starve.result"))
            + @" waiting \(\.Result\) for `Prices\.GetPriceAsync\(int\)`, parked at " + Regex.Escape(At("starve.await")) + @" on Task\.Delay; [\d,]+ work items? queued$", lines[4]);
        var beganAt = Time(began.Groups[1].Value);
        var diagnosedAt = Time(diagnosed.Groups[1].Value);
        Assert.True(beganAt >= go - TimeSpan.FromSeconds(1), $"the incident began {beganAt:O}, before the load did ({go:O})");
        Assert.True(diagnosedAt - go <= TimeSpan.FromSeconds(5), $"diagnosed {(diagnosedAt - go).TotalSeconds:0.0} s after the load began:\n{result}");
    }

    [Fact]
    public void The_same_load_awaited_is_no_incident_and_json_into_a_file_stays_empty()
    {
        using var dir = new TempDirectory("asynclens-watch-");
        using var watched = new WatchedProgram("healthy", "--format", "json", "-o", dir.File("incidents.jsonl"));
        watched.Go();
        Thread.Sleep(TimeSpan.FromSeconds(6)); // the load runs: hundreds of orders a second, nothing blocked
        Assert.NotEqual('T', watched.TargetState());
        var result = watched.Stop();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.Equal("", File.ReadAllText(dir.File("incidents.jsonl")));
        // On exit, the events read and which ones (what watching cost the process: bench/watch-cost.sh reads it), each
        // known by its name, adding up to the total.
        var read = Regex.Match(result.Stderr, @"^asynclens: watched process " + watched.Pid
            + @" for \d+\.\d s: ([\d,]+) events read \([\d.]+ a second\): (.+)$", RegexOptions.Multiline);
        Assert.True(read.Success, result.ToString());
        var byName = read.Groups[2].Value.TrimEnd('\r').Split(", ").Select(e => Regex.Match(e, @"^([\d,]+) (\S+)$")).ToList();
        Assert.All(byName, e => Assert.True(e.Success && !e.Groups[2].Value.StartsWith("EventID", StringComparison.Ordinal), read.Value));
        Assert.Equal(Count(read.Groups[1].Value), byName.Sum(e => Count(e.Groups[1].Value)));
        Assert.Contains(byName, e => e.Groups[2].Value == "EventCounters");
        Assert.Contains(byName, e => e.Groups[2].Value == "ThreadPoolWorkerThread/Wait");
    }

    private static long Count(string digits) => long.Parse(digits, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
