namespace AsyncLens.Tracking;

/// <summary>
/// Creation records by task id. Task ids are handed out in sequence and most tasks are short-lived,
/// so a record usually sits in a slot indexed by its id; a slot still held by a long-lived task
/// sends the newcomer to a locked overflow map. Add, find and remove stay a few nanoseconds.
/// </summary>
internal sealed class TaskTable
{
    private const int SlotCount = 1 << 16;
    private const int Mask = SlotCount - 1;

    private readonly TaskRecord?[] _slots = new TaskRecord?[SlotCount];
    private readonly Dictionary<int, TaskRecord> _overflow = new();
    private readonly Lock _gate = new();
    private volatile int _overflowCount;

    public void Add(TaskRecord record)
    {
        ref var slot = ref _slots[record.Id & Mask];
        if (Interlocked.CompareExchange(ref slot, record, null) is null)
            return;
        using (Runtime.EngineLocks.Hold(_gate))
        {
            _overflow[record.Id] = record;
            _overflowCount = _overflow.Count;
        }
    }

    public TaskRecord? Find(int id)
    {
        var record = Volatile.Read(ref _slots[id & Mask]);
        if (record?.Id == id)
            return record;
        if (_overflowCount == 0)
            return null;
        using (Runtime.EngineLocks.Hold(_gate))
            return _overflow.TryGetValue(id, out var r) ? r : null;
    }

    public TaskRecord? Remove(int id)
    {
        ref var slot = ref _slots[id & Mask];
        var record = Volatile.Read(ref slot);
        if (record?.Id == id && Interlocked.CompareExchange(ref slot, null, record) == record)
            return record;
        if (_overflowCount == 0)
            return null;
        using (Runtime.EngineLocks.Hold(_gate))
        {
            if (!_overflow.Remove(id, out record))
                return null;
            _overflowCount = _overflow.Count;
        }
        return record;
    }
}
