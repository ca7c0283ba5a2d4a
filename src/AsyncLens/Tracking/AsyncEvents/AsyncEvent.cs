using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// One decoded event, pointing into its buffer (valid while the buffer is). <see cref="Timestamp"/> is in
/// <see cref="System.Diagnostics.Stopwatch"/> ticks (<see cref="AsyncEventClock"/> converts). What the kind carries:
/// <list type="bullet">
/// <item>Create*Context: <see cref="ParentDispatcherId"/> (the context running when it was created, 0 if none) and
/// <see cref="DispatcherId"/>; Resume*Context: <see cref="DispatcherId"/>; Suspend/Complete*Context,
/// Resume/Complete*Method: nothing (they apply to the thread's current context, and method);</item>
/// <item>Unwind*Exception: <see cref="UnwoundFrames"/>;</item>
/// <item>*Callstack: <see cref="DispatcherId"/> (and <see cref="ParentDispatcherId"/> for a runtime-async Create), the
/// <see cref="Frames"/>, leaf first: native code addresses of resume points for runtime async, the native code address
/// of <c>MoveNext</c> and the <c>&lt;&gt;1__state</c> of each box for state machines;</item>
/// <item>AsyncProfilerMetadata / AsyncProfilerSyncClock: <see cref="Payload"/> (<see cref="AsyncEventClock"/> reads it).</item>
/// </list>
/// </summary>
internal ref struct AsyncEvent
{
    public AsyncEventKind Kind;
    public long Timestamp;
    public ulong DispatcherId;
    public ulong ParentDispatcherId;
    public uint UnwoundFrames;
    public byte ContinuationIndex;
    public ReadOnlySpan<byte> Payload;
    public AsyncStackFrames Frames;

    public readonly bool IsStateMachine => Kind is >= AsyncEventKind.CreateStateMachineAsyncContext and <= AsyncEventKind.AppendStateMachineAsyncCallstack;

    // Inlined into the reader's Next: one call per event fewer.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryDecode(AsyncEventKind kind, long timestamp, ReadOnlySpan<byte> payload, out AsyncEvent e)
    {
        e = default;
        e.Kind = kind;
        e.Timestamp = timestamp;
        e.Payload = payload;
        var at = 0;
        switch (kind)
        {
            case AsyncEventKind.CreateRuntimeAsyncContext or AsyncEventKind.CreateStateMachineAsyncContext:
                return Varint.TryReadUInt64(payload, ref at, out e.ParentDispatcherId) && Varint.TryReadUInt64(payload, ref at, out e.DispatcherId);
            case AsyncEventKind.ResumeRuntimeAsyncContext or AsyncEventKind.ResumeStateMachineAsyncContext:
                return Varint.TryReadUInt64(payload, ref at, out e.DispatcherId);
            case AsyncEventKind.UnwindRuntimeAsyncException or AsyncEventKind.UnwindStateMachineAsyncException:
                if (!Varint.TryReadUInt64(payload, ref at, out var frames) || frames > uint.MaxValue)
                    return false;
                e.UnwoundFrames = (uint)frames;
                return true;
            case AsyncEventKind.CreateRuntimeAsyncCallstack or AsyncEventKind.ResumeRuntimeAsyncCallstack or AsyncEventKind.SuspendRuntimeAsyncCallstack
                or AsyncEventKind.ResumeStateMachineAsyncCallstack or AsyncEventKind.AppendStateMachineAsyncCallstack:
                if (payload.Length < AsyncEventFormat.CallstackFixedBytes)
                    return false;
                e.ContinuationIndex = payload[1];
                var count = payload[2];
                at = AsyncEventFormat.CallstackFixedBytes;
                if (kind == AsyncEventKind.CreateRuntimeAsyncCallstack && !Varint.TryReadUInt64(payload, ref at, out e.ParentDispatcherId))
                    return false;
                if (!Varint.TryReadUInt64(payload, ref at, out e.DispatcherId))
                    return false;
                e.Frames = new AsyncStackFrames(payload[at..], count, e.IsStateMachine);
                return true;
            default:
                return true;
        }
    }
}

/// <summary>
/// A stack event's frames, leaf first, read one at a time: the first id is written whole, each next one as the
/// (zigzag) difference from the one before; a state machine's frame carries its state after the id.
/// </summary>
internal ref struct AsyncStackFrames
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly bool _withState;
    private int _position;
    private int _read;
    private ulong _last;

    public AsyncStackFrames(ReadOnlySpan<byte> data, int count, bool withState)
    {
        _data = data;
        Count = count;
        _withState = withState;
    }

    /// <summary>How many frames the event says it holds (the runtime stops at 255).</summary>
    public int Count { get; }

    /// <summary>The next frame: <paramref name="id"/> a native code address, <paramref name="state"/> the box's state (-1 for runtime async); false after the last, or if the data ends early.</summary>
    public bool Next(out ulong id, out int state)
    {
        id = 0;
        state = -1;
        if (_read >= Count)
            return false;
        if (_read == 0)
        {
            if (!Varint.TryReadUInt64(_data, ref _position, out id))
                return false;
        }
        else
        {
            if (!Varint.TryReadInt64(_data, ref _position, out var delta))
                return false;
            id = _last + (ulong)delta;
        }
        if (_withState && !Varint.TryReadInt32(_data, ref _position, out state))
            return false;
        _last = id;
        _read++;
        return true;
    }
}
