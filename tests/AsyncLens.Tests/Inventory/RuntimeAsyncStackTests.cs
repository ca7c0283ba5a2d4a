using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Inventory;

/// <summary>
/// The task inventory through .NET 11's runtime-async chains, on tests/Targets/HttpChains: HttpClient calls parked on a
/// silent local server (the user's classic method, then the BCL's HTTP stack, runtime-async on .NET 11, down to the
/// socket; and one no user method awaits, the BCL's frames alone) and a StreamReader reading the user's own stream (the user's code, the BCL's, then the user's again,
/// down to a semaphore). The same program, run on .NET 10 and on .NET 11, prints the same stacks, lines included.
/// </summary>
public sealed class RuntimeAsyncStackTests
{
    private static string At(string tag) => HttpChains.At(tag);

    private static ProcessResult Run(int runtime, string mode, IDictionary<string, string?>? env = null, Action<string>? onLine = null, bool timed = false)
    {
        var target = runtime == 11 ? TargetRuntime.Net11 : TargetRuntime.Net10;
        var result = ChildProcess.Run(target.Dotnet, [Repo.Program("HttpChains"), mode], target.With(env), timed: timed, onLine: onLine);
        Assert.True(result.ExitCode == 0 && result.Stdout.EndsWith("done\n", StringComparison.Ordinal), result.ToString());
        return result;
    }

    /// <summary>The dump without its first line (pid and time) and the program's last line.</summary>
    private static string Body(string dump)
    {
        var text = dump.Replace("\r\n", "\n", StringComparison.Ordinal);
        var end = text.IndexOf("\ndone\n", StringComparison.Ordinal);
        if (end >= 0)
            text = text[..end];
        return text[(text.IndexOf('\n', StringComparison.Ordinal) + 1)..].Trim('\n');
    }

    private static string Stacks() =>
        $"""
        {HttpChains.FetchStack()}

        {HttpChains.UnawaitedStack()}

        x1
            Program.Main(string[]) (running)
            running

        {HttpChains.AcceptStack()}

        {HttpChains.StreamStack()}
        """;

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void Stacks_walk_the_bcl_frames_down_to_the_socket_and_back_into_user_code(int runtime)
    {
        var result = Run(runtime, "stacks");
        Assert.Equal(Stacks(), Body(result.Stdout));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void The_tree_and_the_api_show_each_frame_once_with_what_it_awaits(int runtime)
    {
        var tree = Body(Run(runtime, "tree").Stdout);
        Assert.Equal(HttpChains.Tree("Program.Main(string[]) (running)"), tree);

        var api = Body("\n" + Run(runtime, "api").Stdout);
        const string Send = "HttpRequestMessage, CancellationToken";
        Assert.Equal(
            $"""
            1 x async-method | GatedStream.ReadAsync(Memory<byte>, CancellationToken) | parked | {HttpChains.Line("http.gate")} | SemaphoreSlim.WaitAsync | root=False
            3 x async-method | HttpClient.GetStringAsyncCore({Send}) | parked |  | RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken) | root=False
            1 x async-method | HttpClient.GetStringAsyncCore({Send}) | parked |  | RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken) | root=True
            4 x async-method | HttpConnection.InitialFillAsync(bool) | parked |  | socket I/O | root=False
            4 x async-method | HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken) | parked |  | HttpConnection.InitialFillAsync(bool) | root=False
            4 x async-method | HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken) | parked |  | HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken) | root=False
            1 x async-method | Program.Main(string[]) | running |  |  | root=True
            1 x async-method | Program.Main(string[])+AcceptSilentlyAsync(TcpListener, List<Socket>, RequestsRead) | parked | {HttpChains.Line("http.accept")} | socket I/O | root=True
            3 x async-method | Program.Main(string[])+Fetch(HttpClient, int, int, CancellationToken) | parked | {HttpChains.Line("http.fetch")} | HttpClient.GetStringAsyncCore({Send}) | root=True
            1 x async-method | Program.Main(string[])+ReadAllAsync(Stream) | parked | {HttpChains.Line("http.read")} | StreamReader.ReadToEndAsyncInternal(CancellationToken) | root=True
            4 x async-method | RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken) | parked |  | HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken) | root=False
            1 x async-method | StreamReader.ReadBufferAsync(CancellationToken) | parked |  | GatedStream.ReadAsync(Memory<byte>, CancellationToken) | root=False
            1 x async-method | StreamReader.ReadToEndAsyncInternal(CancellationToken) | parked |  | StreamReader.ReadBufferAsync(CancellationToken) | root=False
            """,
            api);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void Debug_mode_reports_a_slow_step_with_its_async_stack_through_the_bcl_frames(int runtime)
    {
        var result = Run(runtime, "slow", new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1" }, timed: true);
        // The one slow step (on .NET 10 the refused warm-up connection also leaves an unobserved-exception report of
        // HttpConnectionPool's own task: not this test's matter).
        Assert.Single(Regex.Matches(result.Stderr, "^asynclens: slow-step: ", RegexOptions.Multiline));
        Assert.Matches(new Regex(@"^asynclens: slow-step: GatedStream\.ReadAsync\(Memory<byte>, CancellationToken\) ran \d+\.\d{3} s on thread \d+ without yielding \(task \d+\)\n", RegexOptions.Multiline), result.Stderr);
        Assert.Contains(
            $"""
              async stack (root first):
                Program.Main(string[]) at {At("http.await-reading")}
                Program.Main(string[])+ReadAllAsync(Stream) at {At("http.read")}
                StreamReader.ReadToEndAsyncInternal(CancellationToken)
                StreamReader.ReadBufferAsync(CancellationToken)
                GatedStream.ReadAsync(Memory<byte>, CancellationToken) at {At("http.gate")}
              fix:
            """,
            result.Stderr);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void Sigusr1_with_the_startup_hook_writes_the_same_stacks(int runtime)
    {
        var result = Run(runtime, "signal", new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_TASKS"] = "1" }, Signals.Sigusr1WhenParked());
        var body = Body(result.Stderr);
        Assert.StartsWith(HttpChains.FetchStack() + "\n\n" + HttpChains.UnawaitedStack() + "\n\n", body);
        Assert.Contains("\n\n" + HttpChains.StreamStack(), body);
    }
}
