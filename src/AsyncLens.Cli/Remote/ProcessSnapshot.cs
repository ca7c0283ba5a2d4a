using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;
using Microsoft.Diagnostics.Runtime.DataReaders.Implementation;

namespace AsyncLens.Cli.Remote;

/// <summary>Where the bytes of one address range of a snapshot are.</summary>
internal enum SegmentKind
{
    /// <summary>In the copy taken while the process was stopped (at <see cref="Segment.Offset"/>).</summary>
    Copied,

    /// <summary>Memory the process never touched: zeros.</summary>
    Zero,

    /// <summary>A file's bytes (file <see cref="Segment.File"/>, at <see cref="Segment.Offset"/>): read-only file mappings never change.</summary>
    File,

    /// <summary>
    /// Read from the running process: a read-only file mapping whose file at that path cannot be shown to be the one
    /// mapped (a container's other mount namespace, an overlay file system), so its bytes are asked of the process.
    /// </summary>
    Live,

    /// <summary>Could not be copied (the kernel refused it): reads there fail.</summary>
    Unreadable,
}

/// <summary>An address range [Start, End) of a snapshot and where its bytes are.</summary>
internal readonly record struct Segment(ulong Start, ulong End, SegmentKind Kind, long Offset, int File);

/// <summary>
/// What the runtime's data access library (DAC) and the task reader need of a process, taken while it was stopped:
/// its memory (the pages it wrote, copied; the rest from the files it mapped, or zeros), each thread's registers,
/// its modules. Everything read after the process runs again comes from here, so the slow part of a read (the
/// DAC, the heap walk, names and lines) no longer keeps the process stopped. See <see cref="ProcessCopy.Take"/>.
/// </summary>
internal sealed unsafe class ProcessSnapshot : IDataReader, IThreadReader, IDisposable
{
    private readonly Segment[] _segments;
    private readonly CopyBuffer _copy;
    private readonly MappedFile[] _files;
    private readonly Dictionary<uint, byte[]> _contexts;
    private readonly List<MemoryMapping> _mappings;
    private readonly Lock _lock = new();
    private ModuleInfo[]? _modules;
    private int _last;
    private bool _disposed;

    /// <param name="pid">The process.</param>
    /// <param name="taken">What <see cref="ProcessCopy.Take"/> took while it was stopped.</param>
    /// <param name="copy">The copy, which the snapshot owns from now on.</param>
    /// <param name="files">The files its segments name (<see cref="FileIdentities.Paths"/>).</param>
    internal ProcessSnapshot(int pid, TakenMemory taken, CopyBuffer copy, string[] files)
    {
        ProcessId = pid;
        Architecture = RuntimeInformation.ProcessArchitecture;
        _mappings = taken.Plan.Mappings;
        _segments = taken.Segments;
        _copy = copy;
        CopiedBytes = taken.Plan.Bytes;
        _files = [.. files.Select(f => new MappedFile(f))];
        _contexts = taken.Threads.ToDictionary(t => (uint)t.Thread, t => t.Registers);
        ReadsProcess = taken.Segments.Any(s => s.Kind == SegmentKind.Live);
        UnreadableBytes = taken.Segments.Where(s => s.Kind == SegmentKind.Unreadable).Aggregate(0UL, (sum, s) => sum + (s.End - s.Start));
    }

    /// <summary>How many bytes the kernel refused to copy (reads there fail).</summary>
    public ulong UnreadableBytes { get; }

    /// <summary>How many bytes of the process's memory were copied while it was stopped.</summary>
    public ulong CopiedBytes { get; }

    /// <summary>True when some bytes are still asked of the process (they could not be had from its files): its exit then fails the read.</summary>
    public bool ReadsProcess { get; }

    public string DisplayName => $"snapshot of pid {ProcessId}";

    public bool IsThreadSafe => true;

    public OSPlatform TargetPlatform => OSPlatform.Linux;

    public Architecture Architecture { get; }

    public int ProcessId { get; }

    public int PointerSize => IntPtr.Size;

    /// <summary>Every file mapped (grouped by path, at its lowest address) that is a PE or ELF image, read from the snapshot as ClrMD reads a live process's.</summary>
    public IEnumerable<ModuleInfo> EnumerateModules()
    {
        lock (_lock)
        {
            _modules ??= [.. _mappings.Where(m => m.Path.Length > 0 && !m.Path.StartsWith('['))
                .GroupBy(m => m.Path)
                .Select(image => ModuleInfo.TryCreate(this, image.Min(m => m.Start), image.Key))
                .OfType<ModuleInfo>()];
            return _modules;
        }
    }

    public bool GetThreadContext(uint threadID, uint contextFlags, Span<byte> context)
    {
        if (!_contexts.TryGetValue(threadID, out var saved))
            return false;
        var count = Math.Min(saved.Length, context.Length);
        saved.AsSpan(0, count).CopyTo(context);
        return true;
    }

    public IEnumerable<uint> EnumerateOSThreadIds() => _contexts.Keys;

    public ulong GetThreadTeb(uint osThreadId) => 0;

    public void FlushCachedData()
    {
        // A snapshot does not change.
    }

    public int Read(ulong address, Span<byte> buffer)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var at = address + (ulong)done;
            if (at < address || Find(at) is not { } segment)
                break;
            var count = (int)Math.Min((ulong)(buffer.Length - done), segment.End - at);
            var into = buffer.Slice(done, count);
            var within = (long)(at - segment.Start);
            var read = segment.Kind switch
            {
                SegmentKind.Copied => CopyOut(segment.Offset + within, into),
                SegmentKind.Zero => Clear(into),
                SegmentKind.File => _files[segment.File].Read(segment.Offset + within, into) is var got and >= 0 ? got : ProcessCopy.ReadLive(ProcessId, at, into),
                SegmentKind.Live => ProcessCopy.ReadLive(ProcessId, at, into),
                _ => 0,
            };
            done += read;
            if (read < count)
                break;
        }
        return done;
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

    public bool ReadPointer(ulong address, out ulong value) => Read(address, out value);

    public ulong ReadPointer(ulong address) => ReadPointer(address, out var value) ? value : 0;

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var file in _files)
                file.Dispose();
            _copy.Dispose();
        }
    }

    // The segment holding an address: the one last used (reads come in runs), else a binary search.
    private Segment? Find(ulong address)
    {
        var last = _last;
        if (last < _segments.Length && _segments[last].Start <= address && address < _segments[last].End)
            return _segments[last];
        int low = 0, high = _segments.Length - 1;
        while (low <= high)
        {
            var middle = (low + high) >>> 1;
            var segment = _segments[middle];
            if (address < segment.Start)
                high = middle - 1;
            else if (address >= segment.End)
                low = middle + 1;
            else
            {
                _last = middle;
                return segment;
            }
        }
        return null;
    }

    private int CopyOut(long offset, Span<byte> into)
    {
        new ReadOnlySpan<byte>(_copy.Start + offset, into.Length).CopyTo(into);
        return into.Length;
    }

    private static int Clear(Span<byte> into)
    {
        into.Clear();
        return into.Length;
    }

    /// <summary>A file the process mapped, mapped read-only here too on first use.</summary>
    private sealed class MappedFile(string path) : IDisposable
    {
        private readonly Lock _lock = new();
        private System.IO.MemoryMappedFiles.MemoryMappedFile? _file;
        private System.IO.MemoryMappedFiles.MemoryMappedViewAccessor? _view;
        private byte* _bytes;
        private long _length;
        private bool _opened;

        /// <summary>Bytes at a file offset (zeros past its end, as the kernel gives for the rest of the last page); -1 if the file cannot be opened.</summary>
        public int Read(long offset, Span<byte> into)
        {
            if (!Open())
                return -1;
            var available = (int)Math.Clamp(_length - offset, 0, into.Length);
            new ReadOnlySpan<byte>(_bytes + offset, available).CopyTo(into);
            into[available..].Clear();
            return into.Length;
        }

        private bool Open()
        {
            if (Volatile.Read(ref _opened))
                return _bytes is not null || _length == 0;
            lock (_lock)
            {
                if (!_opened)
                {
                    try
                    {
                        _length = new FileInfo(path).Length;
                        if (_length > 0)
                        {
                            _file = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
                            _view = _file.CreateViewAccessor(0, 0, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
                            byte* bytes = null;
                            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref bytes);
                            _bytes = bytes + _view.PointerOffset;
                        }
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                    {
                        _length = -1;
                    }
                    Volatile.Write(ref _opened, true);
                }
                return _bytes is not null || _length == 0;
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                if (_bytes is not null)
                    _view!.SafeMemoryMappedViewHandle.ReleasePointer();
                _bytes = null;
                _view?.Dispose();
                _file?.Dispose();
            }
        }
    }
}
