using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// The objects an object's reference fields hold, found as the GC finds them (its type's GC description,
/// <see cref="RuntimeAsyncLayout.ContainsGCPointersFlag"/>), for objects whose type has no metadata to ask: a .NET 11
/// continuation (its type is made by the runtime per shape; <c>GetType()</c> throws). Each reference is read through a
/// managed ref into the object, so a GC moving it meanwhile is safe; a description that does not fit inside the object
/// is not followed.
/// </summary>
internal static class HeldObjects
{
    // More series than this is not a continuation's description: read nothing.
    private const int MaxSeries = 64;

    private sealed class RawData
    {
        public byte Data;
    }

    /// <summary>The non-null references <paramref name="o"/> holds, into <paramref name="into"/> (cleared first).</summary>
    public static void Read(object o, List<object> into)
    {
        into.Clear();
        var size = IntPtr.Size;
        ref var data = ref Unsafe.As<RawData>(o).Data;
        var mt = Unsafe.As<byte, nint>(ref Unsafe.Subtract(ref data, size));
        var flags = (uint)Marshal.ReadInt32(mt);
        if ((flags & RuntimeAsyncLayout.HasComponentSizeFlag) != 0 || (flags & RuntimeAsyncLayout.ContainsGCPointersFlag) == 0)
            return;
        var baseSize = Marshal.ReadInt32(mt, RuntimeAsyncLayout.BaseSizeOffset);
        var series = (long)Marshal.ReadIntPtr(mt, -size);
        if (series <= 0 || series > MaxSeries || baseSize <= size || baseSize > 1 << 20)
            return;
        for (var i = 1; i <= series; i++)
        {
            var at = mt - size - (i * 2 * size);
            var length = (long)Marshal.ReadIntPtr(at) + baseSize;
            var start = (long)Marshal.ReadIntPtr(at, size);
            if (start < size || length <= 0 || start + length > baseSize || start % size != 0 || length % size != 0)
            {
                into.Clear();
                return;
            }
            for (var offset = start; offset < start + length; offset += size)
            {
                if (Unsafe.As<byte, object?>(ref Unsafe.Add(ref data, (nint)(offset - size))) is { } held)
                    into.Add(held);
            }
        }
    }
}
