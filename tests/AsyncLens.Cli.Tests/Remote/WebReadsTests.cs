using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// An ASP.NET Core app (tests/Targets/WebReads, nothing of AsyncLens in it) read from outside again and again while
/// it serves: every read must succeed and show the requests parked in its handler, with their lines, and the app must
/// answer them afterwards. Reads used to fail now and then here: ClrMD's live reader knew only the mappings the
/// process had before it was stopped, so memory committed in between (a new GC region, a growing loader heap) read as
/// nothing (<c>no System.Threading.Tasks.Task type</c>); and a process stopped in a garbage collection was refused.
/// </summary>
public sealed class WebReadsTests
{
    private const int Parked = 20;

    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "WebReads"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    private static ProcessResult Asynclens(params string[] args) => ChildProcess.Dotnet([Repo.Cli, .. args], timed: false);

    // The app's part of each parked request's async stack, leaf last.
    private static readonly string[] s_parkedFrames =
    [
        $"    Endpoints.UpdatesAsync(int, OrderFeed, CancellationToken) at {At("web-reads.handler")}",
        $"    OrderFeed.NextChangeAsync(int, CancellationToken) at {At("web-reads.next")}",
        $"    OrderFeed.WaitForChangeAsync(int, CancellationToken) at {At("web-reads.wait")}",
        "    awaiting Task.WaitAsync",
    ];

    [Fact]
    public void Ten_reads_in_a_row_of_an_app_serving_requests_all_succeed_with_its_parked_requests()
    {
        using var app = new ServingWebApp();
        app.Park(Parked);
        using (app.Traffic())
        {
            for (var read = 1; read <= 10; read++)
            {
                switch (read % 3)
                {
                    case 1:
                        CheckStacks(app, Asynclens("stacks", app.PidText), read);
                        break;
                    case 2:
                        CheckJson(app, Asynclens("ps", app.PidText, "--format", "json"), read);
                        break;
                    default:
                        var threads = Asynclens("threads", app.PidText);
                        Assert.True(threads.ExitCode == 0, $"read {read}: {threads}");
                        Assert.Matches($@"^asynclens: \d+ managed threads, \d+ running an async step \(pid {app.Pid}, [0-9T:-]+Z\)\n", threads.Stdout);
                        Assert.Matches($@"\nThread 1 \(os {app.Pid}\)\n(    .+\n)*    Program\.<Main>\(string\[\]\)\n", threads.Stdout);
                        break;
                }
            }
        }
    }

    [Fact]
    public void Reads_of_an_app_stopped_in_the_middle_of_garbage_collections_all_succeed()
    {
        // A thread of the app collects garbage (compacting, a live set of 200,000 objects) every 40 ms: many stops land
        // in a collection, when the heap cannot be walked; the read lets the app finish it and stops it again.
        using var app = new ServingWebApp("--gc-churn");
        app.Park(5);
        for (var read = 1; read <= 10; read++)
        {
            var result = Asynclens("ps", app.PidText, "--format", "json", "--stats");
            CheckJson(app, result, read, parked: 5);
            // In a heap this busy the read may meet an object of no known type: the line then counts it.
            Assert.Matches($@"^asynclens: [0-9,]+ nodes from [0-9,]+ heap objects( \([0-9,]+ of no known type\))?; process {app.Pid} paused [0-9.]+ s( in \d stops \(a garbage collection was running\))?, [0-9.]+ MB copied; read in [0-9.]+ s\n$", result.Stderr);
        }
    }

    private static void CheckStacks(ServingWebApp app, ProcessResult result, int read)
    {
        Assert.True(result.ExitCode == 0, $"read {read}: {result}");
        var blocks = result.Stdout.Split("\n\n");
        Assert.Matches($@"^asynclens: \d+ pending tasks in \d+ async stacks \(pid {app.Pid}, [0-9T:-]+Z\)$", blocks[0]);
        // The first request on a connection goes through Kestrel by another path than the next ones: the parked
        // requests may be counted in more than one stack, each ending in the app's frames.
        var parked = 0;
        foreach (var block in blocks[1..])
        {
            var lines = block.TrimEnd('\n').Split('\n');
            if (lines.Length > s_parkedFrames.Length && lines[^s_parkedFrames.Length..].SequenceEqual(s_parkedFrames))
                parked += int.Parse(Regex.Match(lines[0], @"^x(\d+)$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.True(parked == Parked, $"read {read}: {parked} parked requests in the stacks, not {Parked}:\n{result.Stdout}");
    }

    private static void CheckJson(ServingWebApp app, ProcessResult result, int read, int parked = Parked)
    {
        Assert.True(result.ExitCode == 0, $"read {read}: {result}");
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(app.Pid, json.RootElement.GetProperty("pid").GetInt32());
        var tasks = json.RootElement.GetProperty("tasks").EnumerateArray().ToList();
        foreach (var (method, tag) in new[] { ("Endpoints.UpdatesAsync(int, OrderFeed, CancellationToken)", "web-reads.handler"),
            ("OrderFeed.NextChangeAsync(int, CancellationToken)", "web-reads.next"), ("OrderFeed.WaitForChangeAsync(int, CancellationToken)", "web-reads.wait") })
        {
            var mine = tasks.Where(t => t.GetProperty("method").GetString() == method).ToList();
            Assert.True(mine.Count == parked, $"read {read}: {mine.Count} tasks of {method}, not {parked}");
            Assert.All(mine, t =>
            {
                Assert.Equal("parked", t.GetProperty("state").GetString());
                Assert.Equal(s_at[tag].File, t.GetProperty("parkedAt").GetProperty("file").GetString());
                Assert.Equal(s_at[tag].Line, t.GetProperty("parkedAt").GetProperty("line").GetInt32());
            });
        }
    }
}
