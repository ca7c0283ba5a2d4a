using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Takes a <see cref="ProcessSnapshot"/> of a process that asynclens has stopped (every thread ptrace-attached),
/// in a few milliseconds, so that it can be let go at once. From <c>/proc/PID/maps</c> and <c>/proc/PID/pagemap</c>
/// (present, swapped, file-page bits), only what the process wrote is copied, with <c>process_vm_readv</c> in
/// large batches: resident private pages (the managed heap, thread stacks, the runtime's data), copy-on-write
/// pages of file mappings, and shared memory that another view could change. Pages a private mapping never
/// touched are zeros; the rest of a file mapping is the file, which asynclens maps itself afterwards when the file
/// at that path is the one the process mapped (same device and inode), and otherwise reads from the process.
/// Reserved but untouched memory (thread stacks, the GC's reservations) costs nothing.
/// </summary>
internal static unsafe partial class ProcessCopy
{
    private const ulong Present = 1UL << 63;
    private const ulong Swapped = 1UL << 62;
    private const ulong FilePage = 1UL << 61; // a page-cache page (or shared memory), not one of the process's own
    private const int MaxIovecs = 1024; // IOV_MAX
    private const int Esrch = 3;

    /// <summary>
    /// What a copy of process <paramref name="pid"/> would hold now: where each byte would come from, and how many
    /// bytes would be copied. Taken once while the process runs (to size the <see cref="CopyBuffer"/>), then again
    /// once it is stopped (what is copied).
    /// </summary>
    /// <exception cref="ProcessGoneException">The process exited meanwhile.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs while the process is stopped: compiled optimized from the first call
    public static CopyPlan Plan(int pid, FileIdentities files)
    {
        var mappings = MemoryMapping.Read(pid);
        var pageSize = (ulong)Environment.SystemPageSize;
        var segments = new List<Segment>(mappings.Count * 2);
        ulong copied = 0;
        using var pagemap = File.OpenHandle($"/proc/{pid}/pagemap");
        var entries = new ulong[65536];
        foreach (var mapping in mappings)
        {
            var source = mapping.Source;
            if (source == MappingSource.None)
                continue;
            var file = source is MappingSource.PrivateFile or MappingSource.SharedFile ? files.IndexOf(mapping) : -1;
            if (source is MappingSource.Whole)
            {
                Add(segments, new Segment(mapping.Start, mapping.End, SegmentKind.Copied, (long)copied, -1));
                copied += mapping.Length;
                continue;
            }
            if (source is MappingSource.SharedFile)
            {
                Add(segments, Backing(mapping, mapping.Start, mapping.End, file));
                continue;
            }
            for (var page = mapping.Start; page < mapping.End;)
            {
                var count = (int)Math.Min((ulong)entries.Length, (mapping.End - page) / pageSize);
                var span = MemoryMarshal.AsBytes(entries.AsSpan(0, count));
                if (RandomAccess.Read(pagemap, span, (long)(page / pageSize * 8)) != span.Length)
                    throw new ProcessGoneException();
                for (var i = 0; i < count; i++, page += pageSize)
                {
                    var entry = entries[i];
                    if ((entry & Present) != 0 && (entry & FilePage) == 0 || (entry & Swapped) != 0)
                    {
                        Add(segments, new Segment(page, page + pageSize, SegmentKind.Copied, (long)copied, -1));
                        copied += pageSize;
                    }
                    else
                    {
                        Add(segments, source == MappingSource.PrivateAnonymous ? new Segment(page, page + pageSize, SegmentKind.Zero, 0, -1)
                            : Backing(mapping, page, page + pageSize, file));
                    }
                }
            }
        }
        return new CopyPlan(mappings, segments, copied);
    }

    /// <summary>Copies what the stopped process wrote into <paramref name="buffer"/>, and its threads' registers.</summary>
    /// <exception cref="ProcessGoneException">The process exited meanwhile.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static TakenMemory Take(StoppedProcess stopped, FileIdentities files, CopyBuffer buffer)
    {
        var (plan, segments) = CopyMemory(stopped.ProcessId, files, buffer);
        var threads = new List<(int Thread, byte[] Registers)>(stopped.Threads.Count);
        foreach (var thread in stopped.Threads)
        {
            if (stopped.Registers(thread) is { } registers)
                threads.Add((thread, registers));
        }
        return new TakenMemory(plan, segments, threads);
    }

    /// <summary>Plans and copies the memory of process <paramref name="pid"/> into <paramref name="buffer"/> (grown if it falls short).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (CopyPlan Plan, Segment[] Segments) CopyMemory(int pid, FileIdentities files, CopyBuffer buffer)
    {
        var plan = Plan(pid, files);
        buffer.EnsureCapacity(plan.Bytes);
        var segments = plan.Segments.ToArray();
        CopyFromProcess(pid, segments, buffer.Start);
        return (plan, segments);
    }

    /// <summary>
    /// Compiles the code that runs while the process is stopped before it is (<see cref="Plan"/> is, by the
    /// estimate): compiled during the stop, it made the first stop of a read 15-30 ms longer than a second one.
    /// </summary>
    public static void PrepareToStop()
    {
        const BindingFlags all = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        foreach (var name in new[] { nameof(Take), nameof(CopyMemory), nameof(CopyFromProcess), nameof(Transfer), nameof(process_vm_readv) })
            RuntimeHelpers.PrepareMethod(typeof(ProcessCopy).GetMethod(name, all)!.MethodHandle);
        StoppedProcess.PrepareToStop();
    }

    /// <summary>Reads from the running process (for bytes a snapshot could not have from a file); 0 when it cannot.</summary>
    public static int ReadLive(int pid, ulong address, Span<byte> into)
    {
        fixed (byte* local = into)
        {
            var localIov = new Iovec(local, (nuint)into.Length);
            var remoteIov = new Iovec((void*)address, (nuint)into.Length);
            var read = process_vm_readv(pid, &localIov, 1, &remoteIov, 1, 0);
            return read < 0 ? 0 : (int)read;
        }
    }

    // A file segment, or one read from the process when the file at the path is not the one mapped.
    private static Segment Backing(MemoryMapping mapping, ulong start, ulong end, int file) =>
        file >= 0 ? new Segment(start, end, SegmentKind.File, (long)(mapping.Offset + (start - mapping.Start)), file)
        : new Segment(start, end, SegmentKind.Live, 0, -1);

    // Appends, merging with the previous segment when it continues it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs while the process is stopped: compiled optimized from the first call
    private static void Add(List<Segment> segments, Segment next)
    {
        if (segments.Count > 0 && segments[^1] is var last && last.End == next.Start && last.Kind == next.Kind && last.File == next.File
            && (next.Kind is SegmentKind.Zero or SegmentKind.Live || last.Offset + (long)(last.End - last.Start) == next.Offset))
        {
            segments[^1] = last with { End = next.End };
            return;
        }
        segments.Add(next);
    }

    // Fills the copied segments, up to 1,024 ranges per system call. A range the kernel refuses becomes unreadable.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs while the process is stopped: compiled optimized from the first call
    private static void CopyFromProcess(int pid, Segment[] segments, byte* copy)
    {
        var local = stackalloc Iovec[MaxIovecs];
        var remote = stackalloc Iovec[MaxIovecs];
        var batch = new int[MaxIovecs];
        var n = 0;
        for (var i = 0; i <= segments.Length; i++)
        {
            if (i < segments.Length && segments[i].Kind == SegmentKind.Copied)
            {
                var s = segments[i];
                local[n] = new Iovec(copy + s.Offset, (nuint)(s.End - s.Start));
                remote[n] = new Iovec((void*)s.Start, (nuint)(s.End - s.Start));
                batch[n++] = i;
            }
            if (n == MaxIovecs || (i == segments.Length && n > 0))
            {
                Transfer(pid, segments, local, remote, batch, n);
                n = 0;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs while the process is stopped: compiled optimized from the first call
    private static void Transfer(int pid, Segment[] segments, Iovec* local, Iovec* remote, int[] batch, int n)
    {
        var first = 0;
        while (first < n)
        {
            var read = process_vm_readv(pid, local + first, (nuint)(n - first), remote + first, (nuint)(n - first), 0);
            if (read < 0 && Marshal.GetLastPInvokeError() == Esrch)
                throw new ProcessGoneException();
            // A short read stops at the first range that failed: it is marked unreadable, and the next ones read on.
            var done = read < 0 ? 0 : (ulong)read;
            while (first < n && done >= (ulong)remote[first].Length)
                done -= (ulong)remote[first++].Length;
            if (first < n)
            {
                segments[batch[first]] = segments[batch[first]] with { Kind = SegmentKind.Unreadable };
                first++;
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint process_vm_readv(int pid, Iovec* local, nuint localCount, Iovec* remote, nuint remoteCount, nuint flags);

}

/// <summary>A <c>struct iovec</c> (an address and a length) for <c>process_vm_readv</c> and <c>ptrace</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly unsafe struct Iovec(void* start, nuint length)
{
    public readonly void* Start = start;
    public readonly nuint Length = length;
}

/// <summary>What was taken while the process was stopped: where each byte is (the copy: a <see cref="CopyBuffer"/>), and each thread's registers.</summary>
internal sealed record TakenMemory(CopyPlan Plan, Segment[] Segments, List<(int Thread, byte[] Registers)> Threads);

/// <summary>Where each byte of a copy comes from (<see cref="Segment"/>s in address order), and how many bytes are copied.</summary>
internal sealed record CopyPlan(List<MemoryMapping> Mappings, List<Segment> Segments, ulong Bytes);

/// <summary>The process exited while it was being copied.</summary>
internal sealed class ProcessGoneException() : Exception("the process exited while it was being copied");
