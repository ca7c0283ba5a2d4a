using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;
using Microsoft.Diagnostics.Runtime.DataReaders.Implementation;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The memory of a suspended process, read in 64 KB blocks and kept: while the process is stopped its memory
/// cannot change, so each block is read once (one <c>process_vm_readv</c>) instead of one system call per
/// field. ClrMD's live Linux reader reads every request from the process; a heap walk plus the task graph's
/// field reads are millions of small requests, and this turns them into a few hundred block reads.
/// A request the blocks cannot answer (a block only partly mapped) goes to the process directly.
/// A read that fails (the process died) reads nothing instead of throwing: ClrMD's reader is also called
/// from inside the runtime's native debugging library, where an exception would abort asynclens.
/// </summary>
internal sealed class SnapshotReader(IDataReader inner) : IDataReader, IThreadReader
{
    private const int BlockBits = 16;
    private const int BlockSize = 1 << BlockBits;
    private const ulong BlockMask = BlockSize - 1;
    private const int MaxBlocks = 8192; // 512 MB kept at most; past that the blocks are dropped and read again

    private readonly Dictionary<ulong, byte[]?> _blocks = [];
    private readonly Lock _lock = new();

    /// <summary>Blocks read from the process (for --stats).</summary>
    public int BlocksRead { get; private set; }

    public string DisplayName => inner.DisplayName;

    public bool IsThreadSafe => true;

    public OSPlatform TargetPlatform => inner.TargetPlatform;

    public Architecture Architecture => inner.Architecture;

    public int ProcessId => inner.ProcessId;

    public int PointerSize => inner.PointerSize;

    public IEnumerable<ModuleInfo> EnumerateModules() => inner.EnumerateModules();

    public bool GetThreadContext(uint threadID, uint contextFlags, Span<byte> context)
    {
        try
        {
            return inner.GetThreadContext(threadID, contextFlags, context);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    public IEnumerable<uint> EnumerateOSThreadIds() => inner is IThreadReader threads ? threads.EnumerateOSThreadIds() : [];

    public ulong GetThreadTeb(uint osThreadId) => inner is IThreadReader threads ? threads.GetThreadTeb(osThreadId) : 0;

    public void FlushCachedData()
    {
        lock (_lock)
            _blocks.Clear();
        inner.FlushCachedData();
    }

    public int Read(ulong address, Span<byte> buffer)
    {
        lock (_lock)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var at = address + (ulong)done;
                if (at < address || Block(at >> BlockBits) is not { } block)
                    break; // wrapped around, or a block not wholly readable: ask the process for the rest
                var offset = (int)(at & BlockMask);
                var count = Math.Min(BlockSize - offset, buffer.Length - done);
                block.AsSpan(offset, count).CopyTo(buffer[done..]);
                done += count;
            }
            return done == buffer.Length ? done : done + ReadProcess(address + (ulong)done, buffer[done..]);
        }
    }

    public bool Read<T>(ulong address, out T value) where T : unmanaged
    {
        Span<byte> bytes = stackalloc byte[Unsafe.SizeOf<T>()];
        if (Read(address, bytes) == bytes.Length)
        {
            value = MemoryMarshal.Read<T>(bytes);
            return true;
        }
        value = default;
        return false;
    }

    public T Read<T>(ulong address) where T : unmanaged => Read(address, out T value) ? value : default;

    public bool ReadPointer(ulong address, out ulong value)
    {
        if (PointerSize == 8)
            return Read(address, out value);
        var ok = Read(address, out uint small);
        value = small;
        return ok;
    }

    public ulong ReadPointer(ulong address) => ReadPointer(address, out var value) ? value : 0;

    // A whole block, or null when the process does not have all of it mapped (remembered either way).
    private byte[]? Block(ulong index)
    {
        if (_blocks.TryGetValue(index, out var block))
            return block;
        if (_blocks.Count >= MaxBlocks)
            _blocks.Clear();
        block = new byte[BlockSize];
        BlocksRead++;
        if (ReadProcess(index << BlockBits, block) != BlockSize)
            block = null;
        _blocks[index] = block;
        return block;
    }

    private int ReadProcess(ulong address, Span<byte> buffer)
    {
        try
        {
            return inner.Read(address, buffer);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return 0;
        }
    }
}
