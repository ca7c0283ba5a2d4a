using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AsyncLens.Agent;

/// <summary>
/// What the console's security rests on, from the kernel: this process's user, who is at the other end of a Unix
/// socket (SO_PEERCRED: the kernel's word, not the client's), and who owns a path (statx, without following a link).
/// Linux only: the console does not start elsewhere.
/// </summary>
internal static class Posix
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>The process and user at the other end of a connected Unix socket, or null when the kernel will not say.</summary>
    public static PeerCredentials? Peer(Socket socket)
    {
        var cred = default(UCred);
        var length = Marshal.SizeOf<UCred>();
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        return GetSockOpt(fd, SolSocket, SoPeerCred, ref cred, ref length) == 0 ? new PeerCredentials(cred.Pid, cred.Uid) : null;
    }

    /// <summary>The owner and mode (permission bits and type) of <paramref name="path"/> itself (a link is not followed), or null when it does not exist.</summary>
    public static (uint Owner, uint Mode)? Stat(string path)
    {
        var buffer = new byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
            return null;
        // struct statx: stx_uid at 20 (u32), stx_mode at 28 (u16), the same on every architecture.
        return (BitConverter.ToUInt32(buffer, 20), BitConverter.ToUInt16(buffer, 28));
    }

    public const uint TypeMask = 0xF000;
    public const uint Directory = 0x4000;

    /// <summary>"nobody", from /etc/passwd; the number when the name is not there.</summary>
    public static string UserName(uint uid)
    {
        var id = uid.ToString(CultureInfo.InvariantCulture);
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && fields[2] == id)
                    return fields[0];
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return id;
    }

    /// <summary>A process's command line as one short text ("dotnet asynclens.dll console"), or null when it is gone.</summary>
    public static string? CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            var text = raw.TrimEnd('\0').Replace('\0', ' ');
            return text.Length > 300 ? text[..300] + "..." : text;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    [DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static extern int GetSockOpt(int fd, int level, int name, ref UCred value, ref int length);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}

/// <summary>Who connected, as the kernel says.</summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid);
