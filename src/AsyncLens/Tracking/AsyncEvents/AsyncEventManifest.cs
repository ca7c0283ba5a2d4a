namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// Per event id, the size of its payload length field and its version: what a reader needs to step over any event,
/// including kinds it does not know. The runtime writes its table in the <see cref="AsyncEventKind.AsyncProfilerMetadata"/>
/// event (the first event after the source is switched on); until a reader has seen one, <see cref="Shipped"/> (11.0.0's)
/// stands in. An id the manifest lists with another version than <see cref="DecodedVersion"/> is stepped over, not
/// decoded; an id it does not list ends the buffer (its length is unknown), counted by the reader.
/// </summary>
internal sealed class AsyncEventManifest
{
    /// <summary>The event version this reader decodes (every event of 11.0.0 is version 1).</summary>
    public const byte DecodedVersion = 1;

    /// <summary>The <see cref="Entry"/> of an id the manifest does not list.</summary>
    public const byte Absent = 0xFF;

    /// <summary>In an <see cref="Entry"/>: the <see cref="PayloadLengthField"/> bits, and the flag of an id <see cref="Decodes"/>.</summary>
    public const byte FieldMask = 0x3, DecodedFlag = 0x4;

    private readonly byte[] _fields = new byte[256];
    private readonly byte[] _versions = new byte[256];

    // Lists, LengthField and Decodes folded into one byte per id, for the reader's one lookup per event.
    private readonly byte[] _entries = new byte[256];

    private AsyncEventManifest() => Array.Fill(_fields, Absent);

    /// <summary>11.0.0's table (<c>AsyncProfiler.EventManifest.BuildEntries</c>).</summary>
    public static AsyncEventManifest Shipped { get; } = BuildShipped();

    /// <summary>Whether events with this id can be stepped over: the manifest gives its length field.</summary>
    public bool Lists(byte id) => _fields[id] != Absent;

    public PayloadLengthField LengthField(byte id) => (PayloadLengthField)_fields[id];

    /// <summary>Whether events with this id are decoded: a kind this reader knows, at the version it knows.</summary>
    public bool Decodes(byte id) =>
        _fields[id] != Absent && _versions[id] == DecodedVersion && id is >= 1 and <= (byte)AsyncEventKind.AsyncProfilerSyncClock;

    /// <summary>What the reader needs of an id in one byte: <see cref="Absent"/>, or its <see cref="PayloadLengthField"/> and <see cref="DecodedFlag"/>.</summary>
    public byte Entry(byte id) => _entries[id];

    private AsyncEventManifest Sealed()
    {
        for (var id = 0; id < 256; id++)
            _entries[id] = Lists((byte)id) ? (byte)(_fields[id] | (Decodes((byte)id) ? DecodedFlag : 0)) : Absent;
        return this;
    }

    /// <summary>
    /// The manifest a metadata event's payload carries (after its clock fields: the wrapper count, the entry count,
    /// then id, version, length field size per entry), or null when the payload is too short or names a length field
    /// size this reader cannot step over.
    /// </summary>
    public static AsyncEventManifest? FromEntries(ReadOnlySpan<byte> entries)
    {
        if (entries.Length < 1)
            return null;
        int count = entries[0];
        if (entries.Length < 1 + count * 3)
            return null;
        var manifest = new AsyncEventManifest();
        for (var i = 0; i < count; i++)
        {
            var (id, version, field) = (entries[1 + i * 3], entries[2 + i * 3], entries[3 + i * 3]);
            if (field > (byte)PayloadLengthField.UShort)
                return null;
            manifest._fields[id] = field;
            manifest._versions[id] = version;
        }
        return manifest.Sealed();
    }

    private static AsyncEventManifest BuildShipped()
    {
        var manifest = new AsyncEventManifest();
        void Add(AsyncEventKind kind, PayloadLengthField field)
        {
            manifest._fields[(byte)kind] = (byte)field;
            manifest._versions[(byte)kind] = DecodedVersion;
        }

        Add(AsyncEventKind.CreateRuntimeAsyncContext, PayloadLengthField.Byte);
        Add(AsyncEventKind.ResumeRuntimeAsyncContext, PayloadLengthField.Byte);
        Add(AsyncEventKind.SuspendRuntimeAsyncContext, PayloadLengthField.None);
        Add(AsyncEventKind.CompleteRuntimeAsyncContext, PayloadLengthField.None);
        Add(AsyncEventKind.UnwindRuntimeAsyncException, PayloadLengthField.Byte);
        Add(AsyncEventKind.CreateRuntimeAsyncCallstack, PayloadLengthField.UShort);
        Add(AsyncEventKind.ResumeRuntimeAsyncCallstack, PayloadLengthField.UShort);
        Add(AsyncEventKind.SuspendRuntimeAsyncCallstack, PayloadLengthField.UShort);
        Add(AsyncEventKind.ResumeRuntimeAsyncMethod, PayloadLengthField.None);
        Add(AsyncEventKind.CompleteRuntimeAsyncMethod, PayloadLengthField.None);
        Add(AsyncEventKind.CreateStateMachineAsyncContext, PayloadLengthField.Byte);
        Add(AsyncEventKind.ResumeStateMachineAsyncContext, PayloadLengthField.Byte);
        Add(AsyncEventKind.SuspendStateMachineAsyncContext, PayloadLengthField.None);
        Add(AsyncEventKind.CompleteStateMachineAsyncContext, PayloadLengthField.None);
        Add(AsyncEventKind.UnwindStateMachineAsyncException, PayloadLengthField.Byte);
        Add(AsyncEventKind.ResumeStateMachineAsyncCallstack, PayloadLengthField.UShort);
        Add(AsyncEventKind.ResumeStateMachineAsyncMethod, PayloadLengthField.None);
        Add(AsyncEventKind.CompleteStateMachineAsyncMethod, PayloadLengthField.None);
        Add(AsyncEventKind.AppendStateMachineAsyncCallstack, PayloadLengthField.UShort);
        Add(AsyncEventKind.ResetAsyncThreadContext, PayloadLengthField.None);
        Add(AsyncEventKind.ResetAsyncContinuationWrapperIndex, PayloadLengthField.None);
        Add(AsyncEventKind.AsyncProfilerMetadata, PayloadLengthField.UShort);
        Add(AsyncEventKind.AsyncProfilerSyncClock, PayloadLengthField.Byte);
        return manifest.Sealed();
    }
}
