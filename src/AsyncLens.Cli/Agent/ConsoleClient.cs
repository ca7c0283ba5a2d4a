using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AsyncLens.Agent;

namespace AsyncLens.Cli.Agent;

/// <summary>
/// A connection to a process's console agent (<see cref="ConsoleProtocol"/>): finds its socket from the process's
/// user, reads the agent's <c>hello</c>, then sends one request line and reads one answer line at a time.
/// </summary>
internal sealed class ConsoleClient : IConsoleSession
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly NetworkStream _stream;
    private int _nextId;

    private ConsoleClient(Socket socket, string path)
    {
        _socket = socket;
        SocketPath = path;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, new UTF8Encoding(false));
        var hello = _reader.ReadLine() ?? throw new ConsoleRefusedException();
        using var doc = JsonDocument.Parse(hello);
        var root = doc.RootElement;
        if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "error")
            throw new CliException(root.GetProperty("error").GetString() ?? "the console refused", 1);
        Pid = root.GetProperty("pid").GetInt32();
        Program = root.GetProperty("program").GetString() ?? "?";
        Since = root.GetProperty("since").GetString() ?? "";
        Version = root.GetProperty("version").GetInt32();
        DebugMode = root.TryGetProperty("debugMode", out var debug) && debug.ValueKind == JsonValueKind.True;
    }

    public string SocketPath { get; }

    public int Pid { get; }

    public string Program { get; }

    public string Since { get; }

    public int Version { get; }

    /// <summary>The app runs in debug mode: <c>ps</c> has ages and, with <c>--sort busy</c>, busy time and steps.</summary>
    public bool DebugMode { get; }

    /// <summary>Connects to <paramref name="pid"/>'s console, or says in one line why not (exit 2: no such process; 1: no console, not allowed).</summary>
    public static ConsoleClient Connect(int pid) => ConnectIfAny(pid) ?? throw new CliException(NoConsole(pid), 1);

    /// <summary>As <see cref="Connect"/>, but null when the process has no console (nothing listens at its socket).</summary>
    public static ConsoleClient? ConnectIfAny(int pid)
    {
        if (UserOf(pid) is not { } uid)
            throw new CliException($"no process with id {pid.ToString(CultureInfo.InvariantCulture)}");
        var client = TryConnect(ConsoleDirectory.SocketOf(uid, pid), out var failure);
        return client is not null ? client : failure switch
        {
            SocketError.AccessDenied => throw new CliException($"process {pid.ToString(CultureInfo.InvariantCulture)} belongs to {Posix.UserName(uid)} (uid {uid.ToString(CultureInfo.InvariantCulture)}): its console lets in only that user and root", 1),
            SocketError.Shutdown => throw new CliException($"process {pid.ToString(CultureInfo.InvariantCulture)} refused this connection: its console lets in only {Posix.UserName(uid)} (uid {uid.ToString(CultureInfo.InvariantCulture)}){(uid == 0 ? "" : " and root")}", 1),
            _ => null,
        };
    }

    /// <summary>A connection, or null with why not (<see cref="SocketError.Shutdown"/>: the agent closed it unanswered).</summary>
    public static ConsoleClient? TryConnect(string path, out SocketError failure)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.ReceiveTimeout = 60_000;
            socket.Connect(new UnixDomainSocketEndPoint(path));
            failure = SocketError.Success;
            return new ConsoleClient(socket, path);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            failure = ex.SocketErrorCode;
            return null;
        }
        catch (Exception ex) when (ex is ConsoleRefusedException or IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            socket.Dispose();
            failure = SocketError.Shutdown;
            return null;
        }
    }

    public static string NoConsole(int pid) =>
        $"process {pid.ToString(CultureInfo.InvariantCulture)} has no console: start it with ASYNCLENS_CONSOLE=1 and DOTNET_STARTUP_HOOKS=<path of AsyncLens.Engine.dll>, with 'asynclens run --console -- app', or call AsyncDebug.StartConsole() in it";

    /// <summary>Sends one command; the answer line, as sent (without its text when <paramref name="text"/> is false: the data alone).</summary>
    public string Send(string command, IReadOnlyList<string> args, bool text = true)
    {
        var request = ConsoleProtocol.Line(w =>
        {
            w.WriteNumber("id", ++_nextId);
            w.WriteString("command", command);
            if (!text)
                w.WriteBoolean("text", false);
            w.WriteStartArray("args");
            foreach (var arg in args)
                w.WriteStringValue(arg);
            w.WriteEndArray();
        });
        try
        {
            _stream.Write(request);
            return _reader.ReadLine() ?? throw new CliException($"process {Pid.ToString(CultureInfo.InvariantCulture)} closed its console (it exited?)", 1);
        }
        catch (IOException ex)
        {
            throw new CliException($"process {Pid.ToString(CultureInfo.InvariantCulture)}'s console went away ({ex.Message})", 1);
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
    }

    /// <summary>The effective user of a process (/proc/PID/status), or null when there is no such process.</summary>
    public static uint? UserOf(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                    return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private sealed class ConsoleRefusedException : Exception;
}
