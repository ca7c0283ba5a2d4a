namespace AsyncLens.Testing;

/// <summary>
/// tests/Targets/HttpChains, which the inventory tests run in-process and the outside reader's tests read from outside,
/// on .NET 10 and .NET 11: how to start it on either runtime, and the stacks both must print alike.
/// </summary>
internal static class HttpChains
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "HttpChains"));

    public static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";

    public static int Line(string tag) => s_at.Line(tag);

    /// <summary>The three calls the user's Fetch awaits: the user's frame, then the BCL's (runtime-async on .NET 11) down to the socket.</summary>
    public static string FetchStack() =>
        $"""
        x3
            Program.Main(string[])+Fetch(HttpClient, int, int, CancellationToken) at {At("http.fetch")}
        {BclFrames}
        """;

    /// <summary>The call no user method awaits: the BCL's frames alone (on .NET 11 only the chain's task knows them).</summary>
    public static string UnawaitedStack() =>
        $"""
        x1
        {BclFrames}
        """;

    /// <summary>The user's code, then the BCL's StreamReader, then the user's stream again, down to a semaphore.</summary>
    public static string StreamStack() =>
        $"""
        x1
            Program.Main(string[])+ReadAllAsync(Stream) at {At("http.read")}
            StreamReader.ReadToEndAsyncInternal(CancellationToken)
            StreamReader.ReadBufferAsync(CancellationToken)
            GatedStream.ReadAsync(Memory<byte>, CancellationToken) at {At("http.gate")}
            awaiting SemaphoreSlim.WaitAsync
        """;

    /// <summary>The accept loop, parked on the listening socket.</summary>
    public static string AcceptStack() =>
        $"""
        x1
            Program.Main(string[])+AcceptSilentlyAsync(TcpListener, List<Socket>, RequestsRead) at {At("http.accept")}
            awaiting socket I/O
        """;

    /// <summary>The whole tree (roots in the order the dumps print them), with <paramref name="main"/> for Main's own.</summary>
    public static string Tree(string main) =>
        $"""
        Program.Main(string[])+Fetch(HttpClient, int, int, CancellationToken) at {At("http.fetch")} x3
        └── HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
            └── RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
                └── HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
                    └── HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
                        └── HttpConnection.InitialFillAsync(bool)
                            └── socket I/O

        HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
        └── RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
            └── HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
                └── HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
                    └── HttpConnection.InitialFillAsync(bool)
                        └── socket I/O

        {main}

        Program.Main(string[])+AcceptSilentlyAsync(TcpListener, List<Socket>, RequestsRead) at {At("http.accept")}
        └── socket I/O

        Program.Main(string[])+ReadAllAsync(Stream) at {At("http.read")}
        └── StreamReader.ReadToEndAsyncInternal(CancellationToken)
            └── StreamReader.ReadBufferAsync(CancellationToken)
                └── GatedStream.ReadAsync(Memory<byte>, CancellationToken) at {At("http.gate")}
                    └── SemaphoreSlim.WaitAsync
        """;

    private const string BclFrames =
        """
            HttpClient.GetStringAsyncCore(HttpRequestMessage, CancellationToken)
            RedirectHandler.SendAsync(HttpRequestMessage, bool, CancellationToken)
            HttpConnectionPool.SendWithVersionDetectionAndRetryAsync(HttpRequestMessage, bool, bool, CancellationToken)
            HttpConnection.SendAsync(HttpRequestMessage, bool, CancellationToken)
            HttpConnection.InitialFillAsync(bool)
            awaiting socket I/O
        """;
}
