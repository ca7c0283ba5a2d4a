using System.Runtime.InteropServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// Tasks that left the runtime's registry, held by weak handles: a leaked pending box can still be collected, and a
/// handle that dies before its task completed is a box collected while pending. Entries are structs in one array (no
/// object per task) found through an id index; work over all of them goes in batches, the lock held for one batch at a
/// time: app threads take the same lock when one of these tasks completes or a step looks its box up, and must never
/// wait for a pass over a million entries.
/// </summary>
internal sealed class WeakTasks
{
    /// <summary>Entries handled under one hold of the lock.</summary>
    public const int Batch = 512;

    private const int MinimumCapacity = 256;

    private readonly Dictionary<int, int> _index = new();
    private readonly Lock _lock = new();
    private Entry[] _entries = new Entry[MinimumCapacity];
    private int _end;
    private int _free = -1;
    private volatile int _count;
    private int _adders;

    public int Count => _count;

    /// <summary>
    /// True when a completing task may have an entry: entries exist, or a batch is being added. A completion checks this
    /// after its record is gone; an adder checks the record after saying it adds, so one of the two sees the other.
    /// </summary>
    public bool MayHold => _count != 0 || Volatile.Read(ref _adders) != 0;

    /// <summary>
    /// Adds the tasks among <paramref name="tasks"/>[<paramref name="start"/>..+<paramref name="length"/>] that
    /// <paramref name="keep"/> accepts and that have no entry yet; <paramref name="keep"/> runs under the lock a
    /// completion's <see cref="Remove"/> takes, so a completion is seen either by it or by the removal.
    /// </summary>
    public void Add(KeyValuePair<int, Task>[] tasks, int start, int length, Func<int, Task, bool> keep)
    {
        Interlocked.Increment(ref _adders); // a full fence: before any record is looked at
        try
        {
            using (EngineLocks.Hold(_lock))
            {
                for (var i = start; i < start + length; i++)
                {
                    var (id, task) = tasks[i];
                    if (!_index.ContainsKey(id) && keep(id, task))
                        Insert(id, task);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _adders);
        }
    }

    public Task? Find(int id)
    {
        if (!MayHold)
            return null;
        using (EngineLocks.Hold(_lock))
            return _index.TryGetValue(id, out var slot) ? _entries[slot].Handle.Target as Task : null;
    }

    /// <summary>The task with this id completed: its entry goes, and is returned (null when it had none, or its task was collected).</summary>
    public (Task Task, BoxInfo? Box, int LastState)? Take(int id)
    {
        if (!MayHold)
            return null;
        using (EngineLocks.Hold(_lock))
        {
            if (!_index.Remove(id, out var slot))
                return null;
            ref var entry = ref _entries[slot];
            var taken = entry.Handle.Target is Task task ? (task, entry.Box, entry.LastState) : ((Task, BoxInfo?, int)?)null;
            Free(slot);
            return taken;
        }
    }

    /// <summary>The task with this id completed: its entry, if any, goes.</summary>
    public void Remove(int id)
    {
        if (!MayHold)
            return;
        using (EngineLocks.Hold(_lock))
        {
            if (_index.Remove(id, out var slot))
                Free(slot);
        }
    }

    /// <summary>
    /// One pass over every entry, a batch at a time: <paramref name="visit"/> gets each live task with its entry, and
    /// returns false to drop the entry. Entries whose task was collected are dropped and handed to
    /// <paramref name="collected"/> (when given; else they stay, to be found by the pass that wants them).
    /// </summary>
    public void ForEach(Func<Task, BoxInfo?, int, Visit> visit, List<CollectedTask>? collected = null)
    {
        for (var batch = 0; ; batch += Batch)
        {
            using (EngineLocks.Hold(_lock))
            {
                if (batch >= _end)
                    break;
                var end = Math.Min(_end, batch + Batch);
                for (var slot = batch; slot < end; slot++)
                {
                    ref var entry = ref _entries[slot];
                    if (!entry.Handle.IsAllocated)
                        continue;
                    if (entry.Handle.Target is not Task task)
                    {
                        if (collected is null)
                            continue;
                        collected.Add(new CollectedTask(entry.Id, entry.Box, entry.LastState));
                        _index.Remove(entry.Id);
                        Free(slot);
                        continue;
                    }
                    var outcome = visit(task, entry.Box, entry.LastState);
                    if (outcome.Drop)
                    {
                        _index.Remove(entry.Id);
                        Free(slot);
                    }
                    else if (outcome.State != AsyncState.Unknown)
                        entry.LastState = outcome.State;
                }
            }
        }
        Shrink();
    }

    public void Clear()
    {
        using (EngineLocks.Hold(_lock))
        {
            for (var slot = 0; slot < _end; slot++)
            {
                if (_entries[slot].Handle.IsAllocated)
                    _entries[slot].Handle.Free();
            }
            _index.Clear();
            _entries = new Entry[MinimumCapacity];
            _end = 0;
            _free = -1;
            _count = 0;
        }
    }

    private void Insert(int id, Task task)
    {
        int slot;
        if (_free >= 0)
        {
            slot = _free;
            _free = _entries[slot].NextFree;
        }
        else
        {
            if (_end == _entries.Length)
                Array.Resize(ref _entries, _entries.Length * 2);
            slot = _end++;
        }
        var box = BoxInfo.Of(task);
        _entries[slot] = new Entry
        {
            Handle = GCHandle.Alloc(task, GCHandleType.Weak),
            Box = box,
            Id = id,
            LastState = box?.ReadState(task) ?? AsyncState.Unknown,
            NextFree = -1,
        };
        _index[id] = slot;
        _count++;
    }

    private void Free(int slot)
    {
        ref var entry = ref _entries[slot];
        entry.Handle.Free();
        entry.Box = null;
        entry.NextFree = _free;
        _free = slot;
        _count--;
    }

    // A burst of pending tasks that has gone leaves its arrays behind: once they are empty, start again small.
    private void Shrink()
    {
        using (EngineLocks.Hold(_lock))
        {
            if (_count != 0 || _entries.Length == MinimumCapacity)
                return;
            _entries = new Entry[MinimumCapacity];
            _end = 0;
            _free = -1;
            _index.TrimExcess();
        }
    }

    private struct Entry
    {
        public GCHandle Handle;
        public BoxInfo? Box;
        public int Id;

        /// <summary>The await the box was last seen parked on (read when it came here, and at each sweep).</summary>
        public int LastState;

        public int NextFree;
    }
}

/// <summary>What a visit of <see cref="WeakTasks.ForEach"/> decides for one entry: drop it, or note the state its box is parked in.</summary>
internal readonly record struct Visit(bool Drop, int State)
{
    public static Visit Keep(int state) => new(false, state);

    public static readonly Visit Remove = new(true, AsyncState.Unknown);
}

/// <summary>A task collected while in <see cref="WeakTasks"/>: its id, its box type, and the await it was last seen parked on.</summary>
internal readonly record struct CollectedTask(int Id, BoxInfo? Box, int LastState);
