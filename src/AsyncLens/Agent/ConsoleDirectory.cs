using System.Globalization;

namespace AsyncLens.Agent;

/// <summary>
/// Where consoles listen: <c>/tmp/asynclens-UID/PID.sock</c>, one directory per user that only the user can enter
/// (0700), like tmux's <c>/tmp/tmux-UID</c>. The agent makes it, or accepts it only when it is a real directory (not a
/// link) owned by its user; then it tightens the mode, and removes the sockets of processes that are gone. The client
/// finds a process's socket from the process's user.
/// </summary>
internal static class ConsoleDirectory
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string Of(uint uid) => "/tmp/asynclens-" + uid.ToString(CultureInfo.InvariantCulture);

    public static string SocketOf(uint uid, int pid) => Path.Combine(Of(uid), pid.ToString(CultureInfo.InvariantCulture) + ".sock");

    /// <summary>Makes (or checks) this user's directory; the reason it cannot be used otherwise.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static string Ensure(uint uid)
    {
        var dir = Of(uid);
        if (Posix.Stat(dir) is null)
        {
            try
            {
                Directory.CreateDirectory(dir, DirectoryMode);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ConsoleUnavailableException($"cannot make {dir} ({ex.Message})");
            }
        }
        if (Posix.Stat(dir) is not var (owner, mode))
            throw new ConsoleUnavailableException($"cannot read {dir}");
        if ((mode & Posix.TypeMask) != Posix.Directory)
            throw new ConsoleUnavailableException($"{dir} is not a directory (a link or a file someone left there): remove it");
        if (owner != uid)
            throw new ConsoleUnavailableException($"{dir} belongs to {Posix.UserName(owner)} (uid {owner.ToString(CultureInfo.InvariantCulture)}), not to this process's user: remove it");
        if ((mode & 0x1FF) != (uint)DirectoryMode)
            File.SetUnixFileMode(dir, DirectoryMode);
        RemoveStale(dir);
        return dir;
    }

    // Sockets of processes that were killed (SIGKILL leaves no chance to remove them): nobody listens there.
    private static void RemoveStale(string dir)
    {
        foreach (var path in Directory.EnumerateFiles(dir, "*.sock"))
        {
            if (int.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture)))
            {
                try
                {
                    File.Delete(path);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
    }
}

/// <summary>The console cannot start here; the message says why, in one line.</summary>
internal sealed class ConsoleUnavailableException(string message) : Exception(message);
