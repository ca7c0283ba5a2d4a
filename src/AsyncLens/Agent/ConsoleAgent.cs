using System.Globalization;
using System.Net.Sockets;
using AsyncLens.Tracking;

namespace AsyncLens.Agent;

/// <summary>
/// The live console's agent: a Unix socket in this user's directory (<see cref="ConsoleDirectory"/>), no TCP. Every
/// connection's peer is checked with the kernel (this process's user, or root); anyone else is refused and one line
/// says who. Each client is served on a thread of its own (at most <see cref="MaxClients"/> at a time), one request
/// line at a time (<see cref="ConsoleConnection"/>). Nothing here throws into the app: a failure ends one connection,
/// or the agent, with one line.
/// </summary>
internal sealed class ConsoleAgent : IDisposable
{
    public const int MaxClients = 8;

    // A flood of refused connections writes this many lines, then one saying the rest are only counted.
    private const int MaxRefusalLines = 20;

    private readonly Socket _listener;
    private readonly TextWriter _errors;
    private readonly uint _uid;
    private readonly ConsoleCommands _commands;
    private int _clients;
    private int _refusals;
    private volatile bool _stopped;

    private ConsoleAgent(Socket listener, string path, uint uid, TextWriter errors, ConsoleCommands commands)
    {
        _listener = listener;
        SocketPath = path;
        _uid = uid;
        _errors = errors;
        _commands = commands;
        new Thread(Accept) { IsBackground = true, Name = "AsyncLens console" }.Start();
    }

    public string SocketPath { get; }

    /// <summary>Starts listening; the reason in one line when it cannot (not Linux, a directory someone else owns).</summary>
    public static ConsoleAgent Start(TextWriter errors, ConsoleCommands commands)
    {
        if (!OperatingSystem.IsLinux())
            throw new ConsoleUnavailableException("the console runs on Linux only");
        var uid = Posix.EffectiveUserId;
        ConsoleDirectory.Ensure(uid);
        var path = ConsoleDirectory.SocketOf(uid, Environment.ProcessId);
        // A file with this process's id is left from an earlier process that had it: nobody listens there.
        File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, ConsoleDirectory.SocketMode);
            listener.Listen(16);
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            throw new ConsoleUnavailableException($"cannot listen on {path} ({ex.Message})");
        }
        var agent = new ConsoleAgent(listener, path, uid, errors, commands);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => agent.Dispose();
        return agent;
    }

    public void Dispose()
    {
        if (_stopped)
            return;
        _stopped = true;
        _listener.Dispose();
        try
        {
            File.Delete(SocketPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private void Accept()
    {
        ThreadTracker.IsEngineThread = true;
        while (!_stopped)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                if (_stopped)
                    return;
                Thread.Sleep(100); // out of descriptors, say: try again rather than spin
                continue;
            }
            try
            {
                Admit(client);
            }
            catch (Exception ex)
            {
                client.Dispose();
                Write($"asynclens: console: a connection failed ({ex.GetType().Name}: {ex.Message}); the app is unaffected");
            }
        }
    }

    private void Admit(Socket client)
    {
        var peer = Posix.Peer(client);
        if (peer is not { } who || (who.Uid != _uid && who.Uid != 0))
        {
            // Said before the connection is closed: the refused client exits on seeing it closed, and its command
            // line is gone with it.
            Refused(peer);
            client.Dispose();
            return;
        }
        if (Interlocked.Increment(ref _clients) > MaxClients)
        {
            Interlocked.Decrement(ref _clients);
            ConsoleConnection.Reject(client, $"this console already serves {MaxClients} clients: try again later");
            return;
        }
        new Thread(() =>
        {
            ThreadTracker.IsEngineThread = true;
            try
            {
                new ConsoleConnection(client, _commands).Serve();
            }
            catch (Exception ex)
            {
                Write($"asynclens: console: a client's connection failed ({ex.GetType().Name}: {ex.Message}); the app is unaffected");
            }
            finally
            {
                client.Dispose();
                Interlocked.Decrement(ref _clients);
            }
        }) { IsBackground = true, Name = "AsyncLens console client" }.Start();
    }

    private void Refused(PeerCredentials? peer)
    {
        var count = Interlocked.Increment(ref _refusals);
        if (count > MaxRefusalLines + 1)
            return;
        if (count == MaxRefusalLines + 1)
        {
            Write($"asynclens: console: more connections refused; no more lines about them");
            return;
        }
        var owner = $"{Posix.UserName(_uid)} (uid {_uid.ToString(CultureInfo.InvariantCulture)})";
        var who = peer is { } p
            ? $"{Posix.UserName(p.Uid)} (uid {p.Uid.ToString(CultureInfo.InvariantCulture)}, pid {p.Pid.ToString(CultureInfo.InvariantCulture)}{(Posix.CommandLine(p.Pid) is { } cmd ? ": " + cmd : "")})"
            : "a peer the kernel did not name";
        Write($"asynclens: console: refused a connection from {who}: only {owner}{(_uid == 0 ? "" : " and root")} may use this console");
    }

    private void Write(string line)
    {
        try
        {
            _errors.WriteLine(line);
            _errors.Flush();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }
}
