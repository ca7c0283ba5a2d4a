using System.Runtime.InteropServices;
using AsyncLens.Cli.Remote;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// A snapshot of this very process (its memory copied with the same code that copies a stopped one), read back: the
/// bytes it wrote, the files it mapped, the zeros of memory it never touched, and that only written pages are copied.
/// </summary>
public sealed unsafe class ProcessSnapshotTests
{
    private const int PageSize = 4096;

    [Fact]
    public void What_the_process_wrote_reads_back_from_the_copy()
    {
        var pattern = GC.AllocateArray<byte>(3 * PageSize + 123, pinned: true);
        for (var i = 0; i < pattern.Length; i++)
            pattern[i] = (byte)(i * 7 + 3);
        using var snapshot = Snapshot();
        var address = (ulong)Marshal.UnsafeAddrOfPinnedArrayElement(pattern, 0);
        var read = new byte[pattern.Length];
        Assert.Equal(read.Length, snapshot.Read(address, read)); // across page (and so segment) boundaries
        Assert.Equal(pattern, read);
        // A copy: what the process writes afterwards is not seen.
        pattern[0] ^= 0xff;
        Assert.True(snapshot.Read(address, out byte first));
        Assert.Equal((byte)3, first);
    }

    [Fact]
    public void Memory_never_touched_is_zeros_and_is_not_copied()
    {
        const int size = 64 << 20;
        var memory = (byte*)NativeMemory.AlignedAlloc(size, PageSize);
        try
        {
            memory[0] = 42; // one page of the 64 MB written
            var snapshot = Snapshot(out var segments);
            using (snapshot)
            {
                Assert.True(snapshot.Read((ulong)memory, out byte written));
                Assert.Equal(42, written);
                var untouched = new byte[PageSize];
                untouched[0] = 1;
                Assert.Equal(PageSize, snapshot.Read((ulong)memory + (size / 2), untouched));
                Assert.All(untouched, b => Assert.Equal(0, b));
                var start = (ulong)memory;
                var copied = segments.Where(s => s.Kind == SegmentKind.Copied && s.End > start && s.Start < start + size)
                    .Sum(s => (long)(Math.Min(s.End, start + size) - Math.Max(s.Start, start)));
                Assert.Equal(PageSize, copied);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }

    [Fact]
    public void A_mapped_file_reads_as_the_process_sees_it()
    {
        using var snapshot = Snapshot();
        var coreLib = MemoryMapping.Read(Environment.ProcessId).Where(m => m.Path.EndsWith("/System.Private.CoreLib.dll", StringComparison.Ordinal)).Min(m => m.Start);
        var header = new byte[64];
        Assert.Equal(header.Length, snapshot.Read(coreLib, header));
        Assert.Equal(new ReadOnlySpan<byte>((void*)coreLib, header.Length).ToArray(), header);
        Assert.Equal((byte)'M', header[0]);
        Assert.Contains(snapshot.EnumerateModules(), m => m.FileName.EndsWith("/System.Private.CoreLib.dll", StringComparison.Ordinal) && m.ImageBase == coreLib);
    }

    [Fact]
    public void Registers_are_those_taken_and_unknown_threads_have_none()
    {
        var buffer = CopyBuffer.Allocate(0);
        var plan = new CopyPlan([], [], 0);
        using var snapshot = new ProcessSnapshot(Environment.ProcessId, new TakenMemory(plan, [], [(42, [1, 2, 3, 4])]), buffer, []);
        Assert.Equal([42u], snapshot.EnumerateOSThreadIds());
        var context = new byte[6];
        Assert.True(snapshot.GetThreadContext(42, 0, context));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 0, 0 }, context);
        Assert.False(snapshot.GetThreadContext(43, 0, context));
        Assert.Equal(0, snapshot.Read(0x1000, context)); // nothing mapped there
    }

    private static ProcessSnapshot Snapshot() => Snapshot(out _);

    // This process copied as a stopped one is (it is not stopped: each test reads only memory nothing else writes).
    private static ProcessSnapshot Snapshot(out Segment[] segments)
    {
        var files = new FileIdentities(Environment.ProcessId);
        var buffer = CopyBuffer.Allocate(ProcessCopy.Plan(Environment.ProcessId, files).Bytes + (64 << 20));
        (var plan, segments) = ProcessCopy.CopyMemory(Environment.ProcessId, files, buffer);
        return new ProcessSnapshot(Environment.ProcessId, new TakenMemory(plan, segments, []), buffer, files.Paths);
    }
}
