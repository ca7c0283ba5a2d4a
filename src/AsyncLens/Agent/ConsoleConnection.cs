using System.Net.Sockets;

namespace AsyncLens.Agent;

/// <summary>
/// One client of the console: a <c>hello</c> line, then one answer per request line. Bounded: a line longer than
/// <see cref="ConsoleProtocol.MaxRequestBytes"/> is answered with an error and the connection closed; a client silent
/// for <see cref="IdleLimit"/>, or not reading its answers for <see cref="SendLimit"/>, is let go. Garbage gets an
/// error line and the next line is read.
/// </summary>
internal sealed class ConsoleConnection(Socket socket, ConsoleCommands commands)
{
    public static readonly TimeSpan IdleLimit = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan SendLimit = TimeSpan.FromSeconds(10);

    public void Serve()
    {
        socket.ReceiveTimeout = (int)IdleLimit.TotalMilliseconds;
        socket.SendTimeout = (int)SendLimit.TotalMilliseconds;
        try
        {
            Send(commands.Hello());
            var buffer = new byte[ConsoleProtocol.MaxRequestBytes + 1];
            var filled = 0;
            while (true)
            {
                var read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                if (read == 0)
                    return;
                var start = 0;
                var scanFrom = filled;
                filled += read;
                int end;
                while ((end = Array.IndexOf(buffer, (byte)'\n', scanFrom, filled - scanFrom)) >= 0)
                {
                    Handle(buffer.AsSpan(start, end - start));
                    start = scanFrom = end + 1;
                }
                Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                filled -= start;
                if (filled > ConsoleProtocol.MaxRequestBytes)
                {
                    Send(ConsoleProtocol.Error(null, null, 2, $"a request line longer than {ConsoleProtocol.MaxRequestBytes} bytes: connection closed"));
                    CloseAfterAnswer(buffer);
                    return;
                }
            }
        }
        catch (SocketException)
        {
            // The client went away, stopped reading, or fell silent: this connection ends, the next is served.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Closing with unread bytes makes the kernel reset the connection, and the client may lose the answer before reading
    /// it: say that nothing more comes, then read and drop what the client still sends (up to 1 MB or 1 s) first.
    /// </summary>
    private void CloseAfterAnswer(byte[] buffer)
    {
        socket.Shutdown(SocketShutdown.Send);
        socket.ReceiveTimeout = 1000;
        for (var dropped = 0; dropped < 1 << 20;)
        {
            var read = socket.Receive(buffer);
            if (read == 0)
                return;
            dropped += read;
        }
    }

    /// <summary>Answers a connection that cannot be served with one error line, and closes it.</summary>
    public static void Reject(Socket socket, string reason)
    {
        try
        {
            socket.SendTimeout = 1000;
            socket.Send(ConsoleProtocol.Error(null, null, 1, reason));
        }
        catch (SocketException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    private void Handle(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == '\r')
            line = line[..^1];
        if (line.Trim((byte)' ').IsEmpty)
            return;
        if (!ConsoleProtocol.TryParse(line, out var id, out var command, out var args, out var withText, out var error))
        {
            Send(ConsoleProtocol.Error(id, null, 2, error));
            return;
        }
        Send(commands.Run(id, command, args, withText));
    }

    private void Send(byte[] line)
    {
        var sent = 0;
        while (sent < line.Length)
            sent += socket.Send(line, sent, line.Length - sent, SocketFlags.None);
    }
}
