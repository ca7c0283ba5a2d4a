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
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "HttpChains"));

    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    /// <summary>
    /// The .NET 11 runtime laid out by tests/Net11/install-dotnet11.sh (<c>/work/dotnet11</c>, complete once it wrote
    /// <c>.ready</c>), or the one <c>ASYNCLENS_DOTNET11</c> names.
    /// </summary>
    private static string Net11Root()
    {
        var root = Environment.GetEnvironmentVariable("ASYNCLENS_DOTNET11") is { Length: > 0 } named ? named : "/work/dotnet11";
        Assert.True(File.Exists(Path.Combine(root, ".ready")), $"no .NET 11 runtime at {root}: run tests/Net11/install-dotnet11.sh");
        return root;
    }

    private static ProcessResult Run(int runtime, string mode, IDictionary<string, string?>? env = null, Action<string>? onLine = null)
    {
        string[] args = [Repo.Program("HttpChains"), mode];
        var result = runtime == 11
            ? ChildProcess.Run(Path.Combine(Net11Root(), "dotnet"), args, new Dictionary<string, string?>(env ?? new Dictionary<string, string?>()) { ["DOTNET_ROOT"] = Net11Root() }, timed: false, onLine: onLine)
            : onLine is null ? ChildProcess.Dotnet(args, env, timed: false) : ChildProcess.DotnetInteractive(args, env, onLine);
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

    private static string HttpStack() =>
        $"""
        x3
            Program.Main(string[])+Fetch(HttpClient, int, int, CancellationToken) at {At("http.fetch")}
            HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
            SocketsHttpHandler.SendAsync(HttpRequestMessage, CancellationToken)+CreateHandlerAndSendAsync(HttpRequestMessage, CancellationToken)
            RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
            HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
            HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
            HttpConnection.InitialFillAsync(bool)
            awaiting socket I/O
        """;

    // The same chain of the BCL's, called by no user method (on .NET 11 only the runtime's task of the chain knows it).
    private static string UnawaitedStack() =>
        """
        x1
            HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
            SocketsHttpHandler.SendAsync(HttpRequestMessage, CancellationToken)+CreateHandlerAndSendAsync(HttpRequestMessage, CancellationToken)
            RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
            HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
            HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
            HttpConnection.InitialFillAsync(bool)
            awaiting socket I/O
        """;

    private static string StreamStack() =>
        $"""
        x1
            Program.Main(string[])+ReadAllAsync(Stream) at {At("http.read")}
            StreamReader.ReadToEndAsyncInternal(CancellationToken)
            StreamReader.ReadBufferAsync(CancellationToken)
            GatedStream.ReadAsync(Memory<byte>, CancellationToken) at {At("http.gate")}
            awaiting SemaphoreSlim.WaitAsync
        """;

    private static string Stacks() =>
        $"""
        {HttpStack()}

        {UnawaitedStack()}

        x1
            Program.Main(string[]) (running)
            running

        x1
            Program.Main(string[])+AcceptSilentlyAsync(TcpListener, List<Socket>, CountdownEvent) at {At("http.accept")}
            awaiting socket I/O

        {StreamStack()}
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
        Assert.StartsWith(
            $"""
            Program.Main(string[])+Fetch(HttpClient, int, int, CancellationToken) at {At("http.fetch")} x3
            └── HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
                └── SocketsHttpHandler.SendAsync(HttpRequestMessage, CancellationToken)+CreateHandlerAndSendAsync(HttpRequestMessage, CancellationToken)
                    └── RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
                        └── HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
                            └── HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
                                └── HttpConnection.InitialFillAsync(bool)
                                    └── socket I/O
            """,
            tree);
        Assert.Contains(
            """

            HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
            └── SocketsHttpHandler.SendAsync(HttpRequestMessage, CancellationToken)+CreateHandlerAndSendAsync(HttpRequestMessage, CancellationToken)
                └── RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
                    └── HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
                        └── HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
                            └── HttpConnection.InitialFillAsync(bool)
                                └── socket I/O

            """,
            tree);
        Assert.Contains(
            $"""
            Program.Main(string[])+ReadAllAsync(Stream) at {At("http.read")}
            └── StreamReader.ReadToEndAsyncInternal(CancellationToken)
                └── StreamReader.ReadBufferAsync(CancellationToken)
                    └── GatedStream.ReadAsync(Memory<byte>, CancellationToken) at {At("http.gate")}
                        └── SemaphoreSlim.WaitAsync
            """,
            tree);

        var api = Body("\n" + Run(runtime, "api").Stdout);
        const string Send = "HttpRequestMessage, CancellationToken";
        Assert.Equal(
            $"""
            1 x async-method | GatedStream.ReadAsync(Memory<byte>, CancellationToken) | parked | {s_at.Line("http.gate")} | SemaphoreSlim.WaitAsync | root=False
            3 x async-method | HttpClient.GetStringAsyncCore({Send}) | parked |  | SocketsHttpHandler.SendAsync({Send})+CreateHandlerAndSendAsync({Send}) | root=False
            1 x async-method | HttpClient.GetStringAsyncCore({Send}) | parked |  | SocketsHttpHandler.SendAsync({Send})+CreateHandlerAndSendAsync({Send}) | root=True
            4 x async-method | HttpConnection.InitialFillAsync(bool) | parked |  | socket I/O | root=False
            4 x async-method | HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken) | parked |  | HttpConnection.InitialFillAsync(bool) | root=False
            4 x async-method | HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken) | parked |  | HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken) | root=False
            1 x async-method | Program.Main(string[]) | running |  |  | root=True
            1 x async-method | Program.Main(string[])+AcceptSilentlyAsync(TcpListener, List<Socket>, CountdownEvent) | parked | {s_at.Line("http.accept")} | socket I/O | root=True
            3 x async-method | Program.Main(string[])+Fetch(HttpClient, int, int, CancellationToken) | parked | {s_at.Line("http.fetch")} | HttpClient.GetStringAsyncCore({Send}) | root=True
            1 x async-method | Program.Main(string[])+ReadAllAsync(Stream) | parked | {s_at.Line("http.read")} | StreamReader.ReadToEndAsyncInternal(CancellationToken) | root=True
            4 x async-method | RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken) | parked |  | HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken) | root=False
            4 x async-method | SocketsHttpHandler.SendAsync({Send})+CreateHandlerAndSendAsync({Send}) | parked |  | RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken) | root=False
            1 x async-method | StreamReader.ReadBufferAsync(CancellationToken) | parked |  | GatedStream.ReadAsync(Memory<byte>, CancellationToken) | root=False
            1 x async-method | StreamReader.ReadToEndAsyncInternal(CancellationToken) | parked |  | StreamReader.ReadBufferAsync(CancellationToken) | root=False
            """,
            api);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public void Sigusr1_with_the_startup_hook_writes_the_same_stacks(int runtime)
    {
        var result = Run(runtime, "signal", new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_TASKS"] = "1" }, Signals.Sigusr1WhenParked());
        var body = Body(result.Stderr);
        Assert.StartsWith(HttpStack() + "\n\n" + UnawaitedStack() + "\n\n", body);
        Assert.Contains("\n\n" + StreamStack(), body);
    }
}
