using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary><c>asynclens run --dump-format tree -- dotnet Chains.dll signal</c>, then <c>kill -USR1</c> on the program: the tree, no code change.</summary>
public sealed class DumpSignalTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Chains"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    [Fact]
    public void Run_with_dump_format_tree_makes_sigusr1_write_the_tree()
    {
        var result = ChildProcess.DotnetInteractive(
            [Repo.Cli, "run", "--dump-format", "tree", "--", Repo.Program("Chains"), "signal"],
            env: null,
            Signals.Sigusr1WhenParked());

        Assert.True(result.ExitCode == 0 && result.Stdout.EndsWith("done\n", StringComparison.Ordinal), result.ToString());
        Assert.Matches(@"asynclens: 2027 pending tasks in 3 trees \(pid \d+, [0-9T:-]+Z\)\n", result.Stderr);
        Assert.Contains(
            $"""
            Program.Main(string[]) at {At("chains.main-signal")}
            └── Task.Delay

            Task.WhenAll (12 pending)
            ├── Feeds.ConsumeAsync() at {At("chains.consume")}
            │   └── Feeds.ReadAsync() at {At("chains.feed")}

            """,
            result.Stderr.Replace("\r\n", "\n", StringComparison.Ordinal));
        Assert.Contains(
            $"""
            ├── Requests.FloodAsync(int) at {At("chains.flood")}
            │   └── Task.WhenAll (1000 pending)
            │       └── Requests.ProcessAsync(int) at {At("chains.process")} x1000
            │           └── Requests.QueryAsync(int) at {At("chains.query")}
            │               └── Task.Delay

            """,
            result.Stderr);
    }
}
