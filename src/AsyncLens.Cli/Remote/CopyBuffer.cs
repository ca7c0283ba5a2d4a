using System.Runtime.InteropServices;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Memory for the copy of a process, mapped and faulted in before the process is stopped: copying into fresh
/// memory pays a page fault per 4 KB page (half the copy's time, measured on 260 MB), which would all fall in
/// the pause. Sized from an estimate taken while the process still runs; grown during the stop if it fell short.
/// </summary>
internal sealed unsafe partial class CopyBuffer : IDisposable
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MapPopulate = 0x8000;

    private CopyBuffer(byte* start, ulong capacity)
    {
        Start = start;
        Capacity = capacity;
    }

    public byte* Start { get; private set; }

    public ulong Capacity { get; private set; }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes, every page of it already in memory.</summary>
    public static CopyBuffer Allocate(ulong bytes) => new(Map(bytes), bytes);

    /// <summary>Makes room for <paramref name="bytes"/> (the contents are not kept: called before anything is copied).</summary>
    public void EnsureCapacity(ulong bytes)
    {
        if (bytes <= Capacity)
            return;
        Unmap();
        Start = Map(bytes);
        Capacity = bytes;
    }

    public void Dispose() => Unmap();

    private void Unmap()
    {
        if (Start is not null)
            munmap(Start, (nuint)Capacity);
        Start = null;
        Capacity = 0;
    }

    private static byte* Map(ulong bytes)
    {
        if (bytes == 0)
            return null;
        var start = mmap(null, (nuint)bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapPopulate, -1, 0);
        if (start == (void*)-1)
            throw new OutOfMemoryException($"cannot map {bytes / 1e6:F0} MB for the copy of the process (errno {Marshal.GetLastPInvokeError()})");
        return (byte*)start;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc")]
    private static partial int munmap(void* address, nuint length);
}
