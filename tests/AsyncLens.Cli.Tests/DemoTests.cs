using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>The README's demo command: the bundled ChapterBugs sample, every kind of report, lines in the sample.</summary>
public sealed class DemoTests
{
    [Fact]
    public void The_demo_reports_each_chapter_bug_at_its_line()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "demo", "--format", "json"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var sample = Repo.Source("samples", "ChapterBugs");
        var reports = Reports.Parse(result.Stderr).Select(r => $"{r.Kind()} {r.Method()} {r.At("location")?.Replace(sample + "/", "")}").ToList();
        Assert.Equal(
            [
                "slow-step Thumbnails.HandleAsync(Request) Thumbnails.cs:14",
                "blocking-wait Orders.PlaceOrder(int) Orders.cs:8",
                "unobserved-exception Mailer.SendAsync(string, string) Mailer.cs:14",
                "pending-collected Sessions.WaitForReplyAsync(TaskCompletionSource<string>) Sessions.cs:13",
                "hung-step Indexer.RebuildAsync() Indexer.cs:9",
                "slow-step Indexer.RebuildAsync() Indexer.cs:9",
            ],
            reports);
        Assert.Contains("5. A step that never yields", result.Stdout);
    }
}
