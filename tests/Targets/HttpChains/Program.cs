// Four HttpClient.GetStringAsync calls wait on a local server that accepts and never answers, three awaited by user
// code compiled the classic way, then dumps them: in code (args: tree|stacks|json|api), or on SIGUSR1 (arg: signal,
// with ASYNCLENS_TASKS=1 and the startup hook), or spins in the user's stream under the BCL's reader once released
// (arg: slow, in debug mode), or lets asynclens read them from outside (arg: outside; AsyncLens stays
// off; a line on stdin ends it). On .NET 11 the HTTP stack between the user's frames and the socket is
// runtime-async code (continuation chains, no state machine boxes). Besides, user code reads a stream of its own
// through StreamReader (the BCL's frames between two of the user's: the chain mixed in the other order).
using System.Net;
using System.Net.Sockets;
using AsyncLens;

var mode = args.Length > 0 ? args[0] : "stacks";
if (mode is not "signal" and not "outside" && !AsyncDebug.IsEnabled)
    AsyncDebug.TrackTasks(dumpOnSignal: false);

using var server = new TcpListener(IPAddress.Loopback, 0);
server.Start();
var accepted = new List<Socket>();
var connections = new RequestsRead(4);
var accepting = AcceptSilentlyAsync(server, accepted, connections);
using var client = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
// The handler chain is built by the first request: without this, the calls that race it show one more frame
// (SocketsHttpHandler's CreateHandlerAndSendAsync) than those after it. A refused connection builds it at once.
try
{
    await client.GetStringAsync("http://127.0.0.1:1/");
}
catch (HttpRequestException)
{
}
using var stop = new CancellationTokenSource();
var port = ((IPEndPoint)server.LocalEndpoint).Port;
// One call no user method awaits: on .NET 11 a chain of the BCL's alone, found from its task.
var unawaited = client.GetStringAsync($"http://127.0.0.1:{port}/unawaited", stop.Token);
var calls = Enumerable.Range(1, 3).Select(i => Fetch(client, port, i, stop.Token)).ToArray();
using var gate = new SemaphoreSlim(0);
var reading = ReadAllAsync(new GatedStream(gate, spinMs: mode == "slow" ? 400 : 0));
await connections.All.WaitAsync(TimeSpan.FromSeconds(30));
await Task.Delay(1000); // every request read by the server: each client is past writing it, awaiting the answer (a loaded machine takes its time)

switch (mode)
{
    case "signal":
        Console.WriteLine($"parked {Environment.ProcessId}");
        await Task.Delay(TimeSpan.FromSeconds(3)); // the test sends SIGUSR1 meanwhile
        break;
    case "outside":
        Console.WriteLine($"parked {Environment.ProcessId}");
        await Task.Run(Console.In.ReadLine); // @http.outside
        break;
    case "api":
        foreach (var g in AsyncDebug.GetPendingTasks()
            .Where(t => t.Kind == "async-method")
            .GroupBy(t => $"{t.Kind} | {t.Method} | {t.State} | {t.ParkedAt?.Line} | {string.Join(", ", t.Awaiting.Select(a => a.Description).Distinct())} | root={t.IsRoot}")
            .OrderBy(g => g.Key, StringComparer.Ordinal))
            Console.WriteLine($"{g.Count()} x {g.Key}");
        break;
    case "slow":
        break;
    default:
        AsyncDebug.WriteTasks(Console.Out, Enum.Parse<TaskDumpFormat>(mode, ignoreCase: true));
        break;
}

gate.Release();
await reading; // @http.await-reading
stop.Cancel();
foreach (var call in calls.Cast<Task>().Append(unawaited))
{
    try
    {
        await call;
    }
    catch (OperationCanceledException)
    {
    }
}
server.Stop();
foreach (var socket in accepted)
    socket.Dispose();
await accepting;
Console.WriteLine("done");

static async Task<int> Fetch(HttpClient client, int port, int id, CancellationToken cancel)
{
    var body = await client.GetStringAsync($"http://127.0.0.1:{port}/items/{id}", cancel); // @http.fetch
    return body.Length;
}

static async Task AcceptSilentlyAsync(TcpListener server, List<Socket> accepted, RequestsRead connections)
{
    try
    {
        while (true)
        {
            var socket = await server.AcceptSocketAsync(CancellationToken.None); // @http.accept
            accepted.Add(socket);
            // Counted once its request is read whole: the client then awaits the answer that never comes.
            _ = ReadRequestAsync(socket, connections);
        }
    }
    catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
    {
    }
}

static async Task ReadRequestAsync(Socket socket, RequestsRead connections)
{
    var buffer = new byte[4096];
    var received = 0;
    try
    {
        while (buffer.AsSpan(0, received).IndexOf("\r\n\r\n"u8) < 0 && received < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None);
            if (n == 0)
                return;
            received += n;
        }
    }
    catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
    {
        return;
    }
    connections.One();
}

static async Task<string> ReadAllAsync(Stream stream)
{
    using var reader = new StreamReader(stream);
    return await reader.ReadToEndAsync(); // @http.read
}

/// <summary>A stream whose reads wait for a gate, then end: the BCL's reader awaits the user's code.</summary>
sealed class GatedStream(SemaphoreSlim gate, int spinMs) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken); // @http.gate
        var spent = Environment.CpuUsage.TotalTime; // the process's CPU time: spinMs of computing, however busy the machine
        var x = 0.0;
        while ((Environment.CpuUsage.TotalTime - spent).TotalMilliseconds < spinMs) // @http.spin: mode "slow" (debug mode's slow-step under the BCL's reader)
            x += Math.Sqrt(x + buffer.Length);
        return x < 0 ? 1 : 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => 0;
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Counts the requests the server has read whole; <see cref="All"/> completes with the last.</summary>
sealed class RequestsRead(int expected)
{
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _left = expected;

    public Task All => _all.Task;

    public void One()
    {
        if (Interlocked.Decrement(ref _left) == 0)
            _all.TrySetResult();
    }
}
