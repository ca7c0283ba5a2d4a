using System.Reflection;
using System.Runtime.InteropServices;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// The runtime's own active-task registry (<c>Task.s_currentActiveTasks</c>, switched on by
/// <c>Task.s_asyncDebuggingEnabled</c>, as the Visual Studio debugger does): every async method
/// box and Task.Run task, by id. Events carry only ids; this is how an id becomes an object.
/// <para>
/// The registry holds its tasks strongly, which would keep a pending box alive forever and hide
/// "collected while pending". So tasks older than one sweep move from it into a table of weak
/// handles here; a handle that dies before its task completed is exactly that bug.
/// </para>
/// </summary>
internal sealed class TaskRegistry : IDisposable
{
    private static readonly FieldInfo? s_enabledField = typeof(Task).GetField(TaskLayout.AsyncDebuggingEnabled, FieldAccessor.Static);
    private static readonly FieldInfo? s_tasksField = typeof(Task).GetField(TaskLayout.ActiveTasks, FieldAccessor.Static);

    private readonly Dictionary<int, Task> _runtimeTasks;
    private readonly Dictionary<int, WeakTask> _weak = new();
    private volatile int _weakCount;

    private TaskRegistry(Dictionary<int, Task> runtimeTasks) => _runtimeTasks = runtimeTasks;

    /// <summary>Turns the registry on; null when this runtime does not have one.</summary>
    public static TaskRegistry? Enable()
    {
        if (s_enabledField is null || s_tasksField is null || s_tasksField.FieldType != typeof(Dictionary<int, Task>))
            return null;
        try
        {
            // The runtime only adds to the registry once the flag is on, so creating it first cannot race.
            if (s_tasksField.GetValue(null) is not Dictionary<int, Task> tasks)
            {
                tasks = new Dictionary<int, Task>();
                s_tasksField.SetValue(null, tasks);
            }
            s_enabledField.SetValue(null, true);
            return new TaskRegistry(tasks);
        }
        catch (Exception ex) when (ex is FieldAccessException or ArgumentException or TargetException)
        {
            return null;
        }
    }

    /// <summary>
    /// Switches the registry off and lets go of every task: once the flag is off the runtime no longer
    /// removes completed tasks, so anything left in its dictionary would be held forever.
    /// </summary>
    public void Dispose()
    {
        s_enabledField?.SetValue(null, false);
        lock (_runtimeTasks)
            _runtimeTasks.Clear();
        lock (_weak)
        {
            foreach (var entry in _weak.Values)
                entry.Free();
            _weak.Clear();
            _weakCount = 0;
        }
    }

    /// <summary>The task with this id, if it is pending (or completing right now).</summary>
    public Task? Find(int id)
    {
        // Every step looks up its box, and the runtime takes the same lock on every task it adds and removes:
        // on two cores the lock's cache line bounces. Read without it first; a read torn by a concurrent
        // resize can only miss, throw, or return another task, and the id check catches the last.
        try
        {
            if (_runtimeTasks.TryGetValue(id, out var unlocked) && unlocked.Id == id)
                return unlocked;
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or InvalidOperationException or NullReferenceException)
        {
        }
        lock (_runtimeTasks)
        {
            if (_runtimeTasks.TryGetValue(id, out var task))
                return task;
        }
        if (_weakCount == 0)
            return null;
        lock (_weak)
            return _weak.TryGetValue(id, out var w) ? w.Target : null;
    }

    /// <summary>Called when a task completes: its weak entry, if any, is dropped.</summary>
    public void Completed(int id)
    {
        if (_weakCount == 0)
            return;
        lock (_weak)
        {
            if (_weak.Remove(id, out var w))
            {
                w.Free();
                _weakCount = _weak.Count;
            }
        }
    }

    /// <summary>
    /// Moves every task out of the runtime's registry. Those <paramref name="track"/> accepts get weak handles;
    /// the rest are dropped (a task that already completed: the runtime raises the completion event before it
    /// removes the task, so a sweep can catch one in between). <paramref name="track"/> runs under the lock that
    /// <see cref="Completed"/> takes, so a completion is seen either by it or by <see cref="Completed"/>.
    /// </summary>
    public void Sweep(Func<int, Task, bool> track)
    {
        lock (_runtimeTasks)
        {
            if (_runtimeTasks.Count == 0)
                return;
            lock (_weak)
            {
                foreach (var (id, task) in _runtimeTasks)
                {
                    if (!_weak.ContainsKey(id) && track(id, task))
                        _weak[id] = new WeakTask(id, task);
                }
                _weakCount = _weak.Count;
            }
            _runtimeTasks.Clear();
        }
    }

    /// <summary>Weak entries whose task was collected: removed and returned.</summary>
    public List<WeakTask> TakeCollected()
    {
        var dead = new List<WeakTask>();
        if (_weakCount == 0)
            return dead;
        lock (_weak)
        {
            foreach (var entry in _weak.Values)
            {
                if (entry.Target is null)
                    dead.Add(entry);
            }
            foreach (var entry in dead)
            {
                _weak.Remove(entry.Id);
                entry.Free();
            }
            _weakCount = _weak.Count;
        }
        return dead;
    }

    /// <summary>Every task the registry knows now (pending async work), strong references for the caller's use.</summary>
    public List<Task> Snapshot()
    {
        var all = new List<Task>(_weakCount + 1024);
        lock (_runtimeTasks)
            all.AddRange(_runtimeTasks.Values);
        lock (_weak)
        {
            foreach (var entry in _weak.Values)
            {
                if (entry.Target is { IsCompleted: false } t)
                    all.Add(t);
            }
        }
        return all;
    }

    /// <summary>Live weak entries (for re-reading the state each pending box is parked in).</summary>
    public List<WeakTask> WeakEntries()
    {
        lock (_weak)
            return [.. _weak.Values];
    }
}

/// <summary>A task that left the runtime's registry: a weak handle plus what is needed to report it if it dies pending.</summary>
internal sealed class WeakTask
{
    private GCHandle _handle;

    public WeakTask(int id, Task task)
    {
        Id = id;
        _handle = GCHandle.Alloc(task, GCHandleType.Weak);
        Box = BoxInfo.Of(task);
        if (Box is not null)
            LastState = Box.ReadState(task);
    }

    public int Id { get; }

    public BoxInfo? Box { get; }

    /// <summary>The await the box was last seen parked on (read at each sweep and each step end).</summary>
    public int LastState { get; set; } = AsyncState.Unknown;

    /// <summary>The id of the task that awaits this one, when known.</summary>
    public int AwaiterId { get; set; }

    public Task? Target => _handle.IsAllocated ? _handle.Target as Task : null;

    public void Free()
    {
        if (_handle.IsAllocated)
            _handle.Free();
    }
}
