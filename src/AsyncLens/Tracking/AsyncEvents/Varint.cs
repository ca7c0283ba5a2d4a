using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>The source's compressed integers: 7 bits a byte, low first, the high bit on every byte but the last; signed ones zigzag-encoded.</summary>
internal static class Varint
{
    // Inlined where the reader calls it: most integers of an event (a time delta, a state, a frame's difference) fit one byte.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadUInt64(ReadOnlySpan<byte> span, ref int position, out ulong value)
    {
        if ((uint)position < (uint)span.Length && span[position] < 0x80)
        {
            value = span[position++];
            return true;
        }
        return TryReadLong(span, ref position, out value);
    }

    private static bool TryReadLong(ReadOnlySpan<byte> span, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (position >= span.Length)
                return false;
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return true;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadInt64(ReadOnlySpan<byte> span, ref int position, out long value)
    {
        var ok = TryReadUInt64(span, ref position, out var raw);
        value = (long)(raw >> 1) ^ -(long)(raw & 1);
        return ok;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadInt32(ReadOnlySpan<byte> span, ref int position, out int value)
    {
        var ok = TryReadUInt64(span, ref position, out var raw) && raw <= uint.MaxValue;
        value = (int)((uint)raw >> 1) ^ -(int)((uint)raw & 1);
        return ok;
    }
}
