using System.Globalization;

namespace AsyncLens.Cli.Remote;

/// <summary>How the bytes of a mapping are had once the process runs again (see <see cref="ProcessCopy"/>).</summary>
internal enum MappingSource
{
    /// <summary>Not readable (no 'r', or the kernel's [vvar] / [vsyscall]): nothing is read there.</summary>
    None,

    /// <summary>Private memory: its resident pages are copied while the process is stopped; the others read as zeros.</summary>
    PrivateAnonymous,

    /// <summary>
    /// A private mapping of a file: the pages the process wrote to (copy-on-write, its own since) are copied while
    /// it is stopped; the others are the file's bytes, read afterwards.
    /// </summary>
    PrivateFile,

    /// <summary>A read-only shared mapping of a file: the file's bytes, read afterwards.</summary>
    SharedFile,

    /// <summary>
    /// Copied whole while the process is stopped: shared memory that can change through another view (the
    /// runtime's double-mapped code heap, <c>/memfd:doublemapper</c>), writable shared mappings, mappings of a
    /// file that is gone (<c>(deleted)</c>), and the vDSO.
    /// </summary>
    Whole,
}

/// <summary>One line of <c>/proc/PID/maps</c>.</summary>
internal sealed record MemoryMapping(ulong Start, ulong End, string Permissions, ulong Offset, uint DevMajor, uint DevMinor, ulong Inode, string Path)
{
    public bool IsReadable => Permissions[0] == 'r';

    public bool IsWritable => Permissions[1] == 'w';

    public bool IsShared => Permissions[3] == 's';

    /// <summary>A mapping of a file that still has its path (not anonymous memory, a [pseudo] region, a memfd or a deleted file).</summary>
    public bool IsRegularFile => Inode != 0 && Path.StartsWith('/') && !Path.EndsWith(" (deleted)", StringComparison.Ordinal)
        && !Path.StartsWith("/memfd:", StringComparison.Ordinal);

    public ulong Length => End - Start;

    public MappingSource Source =>
        !IsReadable || Path is "[vvar]" or "[vvar_vclock]" or "[vsyscall]" ? MappingSource.None
        : Path == "[vdso]" ? MappingSource.Whole
        : Inode == 0 ? (IsShared ? MappingSource.Whole : MappingSource.PrivateAnonymous)
        : !IsRegularFile ? MappingSource.Whole
        : IsShared ? (IsWritable ? MappingSource.Whole : MappingSource.SharedFile)
        : MappingSource.PrivateFile;

    /// <summary>Parses a line: <c>7f..000-7f..000 r--p 000bd000 fe:00 351014   /usr/lib/x/libcoreclr.so</c>; null if it is not one.</summary>
    public static MemoryMapping? Parse(string line)
    {
        var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 5)
            return null;
        var range = parts[0].Split('-');
        var device = parts[3].Split(':');
        if (range.Length != 2 || device.Length != 2 || parts[1].Length != 4
            || !ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
            || !ulong.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end)
            || !ulong.TryParse(parts[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var offset)
            || !uint.TryParse(device[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var major)
            || !uint.TryParse(device[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var minor)
            || !ulong.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
            || end <= start)
        {
            return null;
        }
        // Only the padding before the path is dropped: a path may hold spaces.
        return new MemoryMapping(start, end, parts[1], offset, major, minor, inode, parts.Length == 6 ? parts[5].TrimStart(' ') : "");
    }

    /// <summary>The mappings of process <paramref name="pid"/>, in address order.</summary>
    public static List<MemoryMapping> Read(int pid)
    {
        var mappings = new List<MemoryMapping>();
        foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
        {
            if (Parse(line) is { } mapping)
                mappings.Add(mapping);
        }
        return mappings;
    }
}
