using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>What ended the reading of a buffer before its end, if anything.</summary>
internal enum AsyncEventBufferError
{
    None,

    /// <summary>Shorter than its header, or than the length the header gives.</summary>
    Truncated,

    /// <summary>A buffer layout version other than <see cref="AsyncEventFormat.BufferVersion"/>: nothing in it is read.</summary>
    UnknownVersion,

    /// <summary>An event id the manifest does not list: its length is unknown, so the rest of the buffer is lost.</summary>
    UnknownEvent,

    /// <summary>An event's integers or payload run past its length or the buffer's end.</summary>
    Malformed,
}

/// <summary>A buffer's header: the thread that wrote it, how many events, and their time span (Stopwatch ticks).</summary>
internal readonly record struct AsyncEventBufferHeader(int Length, uint ContextId, ulong OsThreadId, uint EventCount, long StartTimestamp, long LastTimestamp);

/// <summary>
/// Reads the events of one <c>AsyncEvents</c> buffer in order, without allocating: each <see cref="Next"/> decodes one
/// event into a <see cref="AsyncEvent"/> that points into the buffer. Events of kinds the manifest lists but this reader
/// does not decode (a newer runtime's, or a newer version of a known one) are stepped over and counted in
/// <see cref="Skipped"/>; anything that makes the rest unreadable stops the reader with <see cref="Error"/> set.
/// Every event in a buffer was written by one thread (<see cref="Header"/>'s), in time order.
/// </summary>
internal ref struct AsyncEventReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly AsyncEventManifest _manifest;
    private int _position;
    private long _timestamp;

    public AsyncEventReader(ReadOnlySpan<byte> buffer, AsyncEventManifest manifest)
    {
        _manifest = manifest;
        if (buffer.Length < AsyncEventFormat.HeaderSize)
        {
            Error = AsyncEventBufferError.Truncated;
            return;
        }
        if (buffer[0] != AsyncEventFormat.BufferVersion)
        {
            Error = AsyncEventBufferError.UnknownVersion;
            return;
        }
        Header = new AsyncEventBufferHeader(
            BinaryPrimitives.ReadInt32LittleEndian(buffer[AsyncEventFormat.LengthOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[AsyncEventFormat.ContextIdOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(buffer[AsyncEventFormat.OsThreadIdOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[AsyncEventFormat.EventCountOffset..]),
            BinaryPrimitives.ReadInt64LittleEndian(buffer[AsyncEventFormat.StartTimestampOffset..]),
            BinaryPrimitives.ReadInt64LittleEndian(buffer[AsyncEventFormat.LastTimestampOffset..]));
        if (Header.Length < AsyncEventFormat.HeaderSize || Header.Length > buffer.Length)
        {
            Error = AsyncEventBufferError.Truncated;
            return;
        }
        _buffer = buffer[..Header.Length];
        _position = AsyncEventFormat.HeaderSize;
        _timestamp = Header.StartTimestamp;
    }

    public AsyncEventBufferHeader Header { get; }

    public AsyncEventBufferError Error { get; private set; }

    /// <summary>Events stepped over: listed by the manifest, not decoded by this reader.</summary>
    public int Skipped { get; private set; }

    /// <summary>The next decoded event, or false at the buffer's end or on an <see cref="Error"/>.</summary>
    // Inlined into the listener's loop, whose event it fills in place.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Next(out AsyncEvent e)
    {
        var buffer = _buffer;
        while (Error == AsyncEventBufferError.None && _position < buffer.Length)
        {
            var id = buffer[_position];
            var entry = _manifest.Entry(id);
            if (entry == AsyncEventManifest.Absent)
                return Stop(AsyncEventBufferError.UnknownEvent, out e);
            var at = _position + 1;
            if (!Varint.TryReadUInt64(buffer, ref at, out var delta))
                return Stop(AsyncEventBufferError.Malformed, out e);
            int length;
            switch ((PayloadLengthField)(entry & AsyncEventManifest.FieldMask))
            {
                case PayloadLengthField.None:
                    length = 0;
                    break;
                case PayloadLengthField.Byte when at + 1 <= buffer.Length:
                    length = buffer[at];
                    at += 1;
                    break;
                case PayloadLengthField.UShort when at + 2 <= buffer.Length:
                    length = BinaryPrimitives.ReadUInt16LittleEndian(buffer[at..]);
                    at += 2;
                    break;
                default:
                    return Stop(AsyncEventBufferError.Malformed, out e);
            }
            if (at + length > buffer.Length)
                return Stop(AsyncEventBufferError.Malformed, out e);
            _timestamp += (long)delta;
            _position = at + length;
            if ((entry & AsyncEventManifest.DecodedFlag) == 0)
            {
                Skipped++;
                continue;
            }
            if (!AsyncEvent.TryDecode((AsyncEventKind)id, _timestamp, buffer.Slice(at, length), out e))
                return Stop(AsyncEventBufferError.Malformed, out e);
            return true;
        }
        e = default;
        return false;
    }

    private bool Stop(AsyncEventBufferError error, out AsyncEvent e)
    {
        Error = error;
        e = default;
        return false;
    }
}
