using AsyncLens.Cli.Remote;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// Lines of <c>/proc/PID/maps</c> as a .NET process has them, and where a snapshot takes each mapping's bytes from:
/// what the process wrote is copied while it is stopped, files are read afterwards, the rest is zeros or nothing.
/// </summary>
public sealed class MemoryMappingTests
{
    [Theory]
    // The GC heap, loader heaps, thread stacks: private memory, resident pages copied.
    [InlineData("7f0a1c000000-7f0a1c021000 rw-p 00000000 00:00 0 ", nameof(MappingSource.PrivateAnonymous))]
    [InlineData("55d0c1a3e000-55d0c1c60000 rw-p 00000000 00:00 0                          [heap]", nameof(MappingSource.PrivateAnonymous))]
    [InlineData("7ffd5c8a0000-7ffd5c8c1000 rw-p 00000000 00:00 0                          [stack]", nameof(MappingSource.PrivateAnonymous))]
    // The runtime's libraries and R2R images: the file, but for the pages the process wrote (relocations, .data).
    [InlineData("7fed7d200000-7fed7d2bd000 r--p 00000000 fe:00 351014                     /usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so", nameof(MappingSource.PrivateFile))]
    [InlineData("7fed7d6f0000-7fed7d700000 rw-p 004f0000 fe:00 351014                     /usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so", nameof(MappingSource.PrivateFile))]
    // An IL assembly mapped flat (shared, read-only): the file.
    [InlineData("7fec9c5f0000-7fec9c5fa000 r--s 00000000 fe:00 393417                     /srv/app/Shop.dll", nameof(MappingSource.SharedFile))]
    // The runtime's double-mapped code heap (W^X): its writable view can change what the executable one shows.
    [InlineData("7fec98000000-7fec98010000 r-xs 00000000 00:01 1034                       /memfd:doublemapper (deleted)", nameof(MappingSource.Whole))]
    [InlineData("7fec98400000-7fec98410000 rw-s 00400000 00:01 1034                       /memfd:doublemapper (deleted)", nameof(MappingSource.Whole))]
    // A file gone since it was mapped, shared writable memory, anonymous shared memory, the vDSO: copied whole.
    [InlineData("7fec9c600000-7fec9c610000 r-xp 00000000 fe:00 393418                     /srv/app/old/libnative.so (deleted)", nameof(MappingSource.Whole))]
    [InlineData("7fec9c700000-7fec9c710000 rw-s 00000000 fe:00 393419                     /dev/shm/app-state", nameof(MappingSource.Whole))]
    [InlineData("7fec9c800000-7fec9c810000 rw-s 00000000 00:01 2048                       /dev/zero (deleted)", nameof(MappingSource.Whole))]
    [InlineData("7ffd5c9f2000-7ffd5c9f4000 r-xp 00000000 00:00 0                          [vdso]", nameof(MappingSource.Whole))]
    // Reserved, never readable; the kernel's pages that cannot be read from another process.
    [InlineData("7f0a1c021000-7f0a20000000 ---p 00000000 00:00 0 ", nameof(MappingSource.None))]
    [InlineData("7ffd5c9ee000-7ffd5c9f2000 r--p 00000000 00:00 0                          [vvar]", nameof(MappingSource.None))]
    [InlineData("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]", nameof(MappingSource.None))]
    public void Each_kind_of_mapping_has_its_source(string line, string source) =>
        Assert.Equal(source, MemoryMapping.Parse(line)!.Source.ToString());

    [Fact]
    public void A_line_gives_its_range_permissions_offset_device_inode_and_path()
    {
        var mapping = MemoryMapping.Parse("7fed7d6f0000-7fed7d700000 rw-p 004f0000 fe:01 351014                     /opt/My App/lib core.so")!;
        Assert.Equal(0x7fed7d6f0000UL, mapping.Start);
        Assert.Equal(0x7fed7d700000UL, mapping.End);
        Assert.Equal(0x10000UL, mapping.Length);
        Assert.Equal(0x4f0000UL, mapping.Offset);
        Assert.Equal((0xfeu, 1u, 351014UL), (mapping.DevMajor, mapping.DevMinor, mapping.Inode));
        Assert.Equal("/opt/My App/lib core.so", mapping.Path);
        Assert.True(mapping is { IsReadable: true, IsWritable: true, IsShared: false, IsRegularFile: true });
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a mapping")]
    [InlineData("7f0a1c021000 ---p 00000000 00:00 0")]
    [InlineData("7f0a1c021000-7f0a1c000000 rw-p 00000000 00:00 0")]
    [InlineData("7f0a1c000000-7f0a1c021000 rw 00000000 00:00 0")]
    public void What_is_not_a_maps_line_is_skipped(string line) => Assert.Null(MemoryMapping.Parse(line));

    [Fact]
    public void This_process_maps_parse_whole()
    {
        var lines = File.ReadAllLines("/proc/self/maps");
        var mappings = MemoryMapping.Read(Environment.ProcessId);
        Assert.True(mappings.Count >= lines.Length - 2, $"{mappings.Count} of {lines.Length} lines parsed");
        Assert.Contains(mappings, m => m.Path.EndsWith("/System.Private.CoreLib.dll", StringComparison.Ordinal) && m.Source == MappingSource.PrivateFile);
    }
}
