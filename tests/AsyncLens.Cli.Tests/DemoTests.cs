using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>The README's demo command: the bundled ChapterBugs sample, every kind of report and the task tree, lines in the sample.</summary>
public sealed class DemoTests
{
    private static string At(string file, string code)
    {
        var path = Repo.Source("samples", "ChapterBugs", file);
        var line = Array.FindIndex(File.ReadAllLines(path), l => l.Contains(code, StringComparison.Ordinal)) + 1;
        Assert.True(line > 0, $"'{code}' not found in {path}");
        return $"{path}:{line}";
    }

    [Theory]
    [InlineData("net10")]
    [InlineData("net11")] // asynclens and the sample where only .NET 11 is installed
    public void The_demo_reports_each_chapter_bug_at_its_line(string runtime)
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "demo", "--format", "json"], runtime: TargetRuntime.Named(runtime));
        Assert.True(result.ExitCode == 0, result.ToString());
        var reports = Reports.Parse(result.Stderr).Select(r => $"{r.Kind()} {r.Method()} {r.At("location")} created {r.At("createdAt")}").ToList();
        Assert.Equal(
            [
                $"slow-step Thumbnails.HandleAsync(Request) {At("Thumbnails.cs", "var thumbnail = Compute(")} created {At("Program.cs", "await Thumbnails.HandleAsync(")}",
                $"blocking-wait Orders.PlaceOrder(int) {At("Orders.cs", ".Result;")} created {At("Program.cs", "Orders.PlaceOrder(7)")}",
                $"unobserved-exception Mailer.SendAsync(string, string) {At("Mailer.cs", "throw new")} created {At("Mailer.cs", "_ = SendAsync(")}",
                $"pending-collected Sessions.WaitForReplyAsync(TaskCompletionSource<string>) {At("Sessions.cs", "await reply.Task")} created {At("Sessions.cs", "_ = WaitForReplyAsync(")}",
                $"hung-step Indexer.RebuildAsync() {At("Indexer.cs", "Thread.Sleep(")} created {At("Program.cs", "await Indexer.RebuildAsync()")}",
                $"slow-step Indexer.RebuildAsync() {At("Indexer.cs", "Thread.Sleep(")} created {At("Program.cs", "await Indexer.RebuildAsync()")}",
                $"lost-exceptions Replicas.WriteAsync(string) {At("Replicas.cs", "await Task.WhenAll(")} created {At("Program.cs", "await Replicas.WriteAsync(")}",
            ],
            reports);
        Assert.Contains("5. A step that never yields", result.Stdout);

        // Step 6: the sample sends itself SIGUSR1; the demo asks for the tree.
        var dump = result.Stderr[result.Stderr.IndexOf("asynclens: 42 pending tasks", StringComparison.Ordinal)..].Replace("\r\n", "\n", StringComparison.Ordinal);
        if (dump.IndexOf("\n{\"kind\"", StringComparison.Ordinal) is var next and > 0)
            dump = dump[..(next + 1)]; // step 7's report comes after the dump

        Assert.Matches(@"^asynclens: 42 pending tasks in 1 tree \(pid \d+, [0-9T:-]+Z\)\n", dump);
        Assert.Equal(
            $"""
            Program.Main(string[]) at {At("Program.cs", "await serving;")}
            └── Gateway.ServeAsync(int) at {At("Gateway.cs", "await Task.WhenAll(handlers)")}
                └── Task.WhenAll (20 pending)
                    ├── Gateway.HandleAsync(int) at {At("Gateway.cs", "await FetchUserAsync(id)")} x19
                    │   └── Gateway.FetchUserAsync(int) at {At("Gateway.cs", "await s_backend.WaitAsync()")}
                    │       └── SemaphoreSlim.WaitAsync
                    └── Gateway.HandleAsync(int) at {At("Gateway.cs", "await FetchUserAsync(id)")}
                        └── Gateway.FetchUserAsync(int) at {At("Gateway.cs", "await Task.Delay(id == 0")}
                            └── Task.Delay
            """,
            dump[(dump.IndexOf("\n\n", StringComparison.Ordinal) + 2)..].TrimEnd('\n'));
        Assert.EndsWith("Done.\n", result.Stdout, StringComparison.Ordinal);
    }
}
