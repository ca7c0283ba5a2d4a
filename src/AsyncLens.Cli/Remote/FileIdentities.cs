using System.Runtime.InteropServices;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The files a process mapped that asynclens can read in its place: the file at the mapping's path when it is
/// the same file (same device and inode as <c>/proc/PID/maps</c> says), else the same path seen from the
/// process's own root (<c>/proc/PID/root/...</c>: a container's mount namespace). A mapping whose file cannot be
/// shown to be the one mapped (a replaced file, an overlay file system whose inodes differ) gets none, and its
/// bytes are asked of the process instead. Checked once per path and kept across the stops of one read.
/// </summary>
internal sealed unsafe partial class FileIdentities(int pid)
{
    private const int AtFdCwd = -100;
    private const uint StatxIno = 0x100;

    private readonly Dictionary<(string Path, ulong Inode, uint Major, uint Minor), int> _index = [];
    private readonly List<string> _paths = [];

    /// <summary>The files found so far, by the index <see cref="IndexOf"/> gave.</summary>
    public string[] Paths => [.. _paths];

    /// <summary>The index of the file to read for <paramref name="mapping"/>, or -1 when there is none.</summary>
    public int IndexOf(MemoryMapping mapping)
    {
        var key = (mapping.Path, mapping.Inode, mapping.DevMajor, mapping.DevMinor);
        if (_index.TryGetValue(key, out var known))
            return known;
        var root = $"/proc/{pid}/root{mapping.Path}";
        var path = SameFile(mapping.Path, mapping) ? mapping.Path : SameFile(root, mapping) ? root : null;
        var found = -1;
        if (path is not null)
        {
            found = _paths.Count;
            _paths.Add(path);
        }
        _index[key] = found;
        return found;
    }

    private static bool SameFile(string path, MemoryMapping mapping)
    {
        var buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, 0, StatxIno, buffer) != 0)
            return false;
        // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140 (the same on every architecture).
        return *(ulong*)(buffer + 32) == mapping.Inode && *(uint*)(buffer + 136) == mapping.DevMajor && *(uint*)(buffer + 140) == mapping.DevMinor;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int directory, string path, int flags, uint mask, byte* buffer);
}
