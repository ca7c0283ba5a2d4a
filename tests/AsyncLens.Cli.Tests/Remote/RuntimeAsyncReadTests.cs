using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// The outside reader through .NET 11's runtime-async chains: tests/Targets/HttpChains, with no agent in it, read by
/// <c>asynclens stacks / pstree PID</c> on .NET 10 and on .NET 11 prints the same stacks (the BCL's HTTP stack down to
/// the socket, the user's stream under the BCL's StreamReader), lines included.
/// </summary>
public sealed class RuntimeAsyncReadTests
{
    private static ProcessResult Asynclens(params string[] args) => ChildProcess.Dotnet([Repo.Cli, .. args], timed: false);

    private static string Body(string output)
    {
        var text = output.Replace("\r\n", "\n", StringComparison.Ordinal);
        return text[(text.IndexOf('\n', StringComparison.Ordinal) + 1)..].Trim('\n');
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void Stacks_read_from_outside_walk_the_bcl_frames_down_to_the_socket(int runtime)
    {
        using var chains = new ParkedChains(runtime == 11 ? TargetRuntime.Net11 : TargetRuntime.Net10, "HttpChains");
        var result = Asynclens("stacks", chains.PidText);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($@"^asynclens: 30 pending tasks in 5 async stacks \(pid {chains.Pid}, [0-9T:-]+Z\)\n", result.Stdout);
        Assert.Equal(
            $"""
            {HttpChains.FetchStack()}

            {HttpChains.UnawaitedStack()}

            x1
                Program.Main(string[]) at {HttpChains.At("http.outside")}
                Task.Run(SyncTextReader.ReadLine()) (running)
                running

            {HttpChains.AcceptStack()}

            {HttpChains.StreamStack()}
            """,
            Body(result.Stdout));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void Pstree_read_from_outside_nests_each_frame_under_its_caller(int runtime)
    {
        using var chains = new ParkedChains(runtime == 11 ? TargetRuntime.Net11 : TargetRuntime.Net10, "HttpChains");
        var result = Asynclens("pstree", chains.PidText);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($@"^asynclens: 30 pending tasks in 5 trees \(pid {chains.Pid}, [0-9T:-]+Z\)\n", result.Stdout);
        Assert.Equal(
            HttpChains.Tree(
                $"""
                Program.Main(string[]) at {HttpChains.At("http.outside")}
                └── Task.Run(SyncTextReader.ReadLine()) (running)
                """),
            Body(result.Stdout));
        Assert.Equal("", result.Stderr);
    }
}
