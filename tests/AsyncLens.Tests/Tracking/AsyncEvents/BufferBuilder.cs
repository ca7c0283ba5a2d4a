using System.Buffers.Binary;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Tests.Tracking.AsyncEvents;

/// <summary>Writes <c>AsyncEvents</c> buffers by hand in the runtime's format, for the edge cases a recording does not hold.</summary>
internal sealed class BufferBuilder
{
    private readonly List<byte> _bytes = [];
    private byte _version = AsyncEventFormat.BufferVersion;
    private uint _count;
    private long _last;

    public BufferBuilder(long start = 1_000, ulong osThread = 42)
    {
        _bytes.AddRange(new byte[AsyncEventFormat.HeaderSize]);
        (Start, _last, OsThread) = (start, start, osThread);
    }

    public long Start { get; }

    public ulong OsThread { get; }

    public BufferBuilder Version(byte version)
    {
        _version = version;
        return this;
    }

    /// <summary>An event at <paramref name="timestamp"/>, with a length field of <paramref name="field"/> and the payload's bytes.</summary>
    public BufferBuilder Event(byte id, long timestamp, PayloadLengthField field, params byte[] payload)
    {
        _bytes.Add(id);
        Unsigned(_bytes, (ulong)(timestamp - _last));
        _last = timestamp;
        if (field == PayloadLengthField.Byte)
            _bytes.Add((byte)payload.Length);
        else if (field == PayloadLengthField.UShort)
            _bytes.AddRange([(byte)payload.Length, (byte)(payload.Length >> 8)]);
        _bytes.AddRange(payload);
        _count++;
        return this;
    }

    public BufferBuilder Event(AsyncEventKind kind, long timestamp, params byte[] payload) =>
        Event((byte)kind, timestamp, AsyncEventManifest.Shipped.LengthField((byte)kind), payload);

    public byte[] Build(int? claimedLength = null)
    {
        var buffer = _bytes.ToArray();
        buffer[0] = _version;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(AsyncEventFormat.LengthOffset), claimedLength ?? buffer.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(AsyncEventFormat.ContextIdOffset), 7);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(AsyncEventFormat.OsThreadIdOffset), OsThread);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(AsyncEventFormat.EventCountOffset), _count);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(AsyncEventFormat.StartTimestampOffset), Start);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(AsyncEventFormat.LastTimestampOffset), _last);
        return buffer;
    }

    public static byte[] Unsigned(ulong value)
    {
        var bytes = new List<byte>();
        Unsigned(bytes, value);
        return [.. bytes];
    }

    public static byte[] Signed(long value) => Unsigned((ulong)((value << 1) ^ (value >> 63)));

    private static void Unsigned(List<byte> bytes, ulong value)
    {
        while (value > 0x7F)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        bytes.Add((byte)value);
    }
}
