using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The stack of a thread stopped inside native code the runtime did not enter through a frame of its own: a
/// CPU-bound loop inside a math helper (<c>%</c> on doubles calls the C library's <c>fmod</c>, <c>Math.Pow</c> its
/// <c>pow</c>). The runtime's stack walk cannot unwind such code and returns no managed frame. The managed frames
/// are recovered by scanning the thread's stack, from its stack pointer up to the first frame the runtime knows, for
/// return addresses into managed code that follow a call instruction, as debuggers do without unwind information: a
/// stale return address left on the stack can pass this test, so the frames are shown as found, under the native
/// function. A thread waiting in a system call (its instruction pointer just after <c>syscall</c>) is not running
/// native code: it is left as it is. Linux x64 only.
/// </summary>
internal static class NativeFrames
{
    private const uint ContextAll = 0x10001F; // CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS | FLOATING_POINT
    private const int ContextSize = 0x4D0;
    private const int RspOffset = 0x98;
    private const int RipOffset = 0xF8;
    private const int MaxScan = 1 << 20;
    private const int MaxCallers = 64;

    /// <summary>
    /// Where the thread is in native code (<c>fmod in libm.so.6 (native code)</c>) and the managed return addresses
    /// under it, innermost first; null when it is not in native code.
    /// </summary>
    public static (string Native, List<(ClrMethod Method, ulong ReturnAddress)> Callers)? Read(ClrRuntime runtime, ClrThread thread)
    {
        var reader = runtime.DataTarget.DataReader;
        if (reader.Architecture != Architecture.X64)
            return null;
        Span<byte> context = stackalloc byte[ContextSize];
        if (!reader.GetThreadContext(thread.OSThreadId, ContextAll, context))
            return null;
        var sp = BinaryPrimitives.ReadUInt64LittleEndian(context[RspOffset..]);
        var ip = BinaryPrimitives.ReadUInt64LittleEndian(context[RipOffset..]);
        Span<byte> before = stackalloc byte[2];
        if (ip < 2 || runtime.GetMethodByInstructionPointer(ip) is not null
            || reader.Read(ip - 2, before) == 2 && before[0] == 0x0F && before[1] == 0x05) // syscall: waiting in the kernel
            return null;

        // The scan stops at the first frame the runtime knows (the thread's base frame, a transition frame).
        var end = sp + MaxScan;
        foreach (var frame in thread.EnumerateStackTrace())
        {
            if (frame.StackPointer > sp)
            {
                end = Math.Min(end, frame.StackPointer);
                break;
            }
        }
        var callers = new List<(ClrMethod, ulong)>();
        for (var slot = sp; slot < end && callers.Count < MaxCallers; slot += 8)
        {
            var value = reader.ReadPointer(slot);
            if (value > 8 && runtime.GetMethodByInstructionPointer(value) is { } method && FollowsCall(reader, value))
                callers.Add((method, value));
        }
        return callers.Count == 0 ? null : (Name(reader, ip, CallTarget(reader, callers[0].Item2)), callers);
    }

    // The function the innermost managed caller called (e8 rel32, or ff 15 through an indirection cell): the exported
    // entry of a library (fmod, pow), where the instruction pointer may be in a function the library does not export.
    private static ulong CallTarget(IDataReader reader, ulong returnAddress)
    {
        Span<byte> code = stackalloc byte[6];
        if (reader.Read(returnAddress - 6, code) != 6)
            return 0;
        if (code[1] == 0xE8)
            return returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code[2..]);
        if (code[0] == 0xFF && code[1] == 0x15)
            return reader.ReadPointer(returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code[2..]));
        return 0;
    }

    // The instruction before a return address is a call: e8 rel32, or ff /2 (through a register or memory, with or
    // without a ModRM displacement and SIB byte).
    private static bool FollowsCall(IDataReader reader, ulong returnAddress)
    {
        Span<byte> code = stackalloc byte[7];
        if (reader.Read(returnAddress - 7, code) != 7)
            return false;
        if (code[2] == 0xE8)
            return true;
        foreach (var length in (ReadOnlySpan<int>)[2, 3, 4, 6, 7])
        {
            if (code[7 - length] == 0xFF && (code[8 - length] & 0x38) == 0x10)
                return true;
        }
        return false;
    }

    // "fmod in libm.so.6 (native code)": the function at the instruction pointer, else the one the managed code called,
    // in the library the instruction pointer is in.
    private static string Name(IDataReader reader, ulong ip, ulong called)
    {
        string? library = null;
        string? function = null;
        foreach (var module in reader.EnumerateModules())
        {
            if (module.FileName is not { Length: > 0 } path)
                continue;
            var end = module.ImageBase + (ulong)module.ImageSize;
            if (ip >= module.ImageBase && ip < end)
            {
                library = Path.GetFileName(path);
                function ??= ElfSymbols.FunctionAt(path, module.ImageBase, ip);
            }
            else if (called >= module.ImageBase && called < end && ElfSymbols.FunctionAt(path, module.ImageBase, called) is { } entry)
            {
                function = entry;
            }
        }
        return $"{(function is null ? "" : function + " in ")}{library ?? "an unknown library"} (native code)";
    }
}
