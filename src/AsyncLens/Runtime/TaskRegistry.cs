using System.Reflection;
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

    private static readonly MethodInfo? s_synchronizeFlags =
        typeof(Task).Assembly.GetType(TaskLayout.AsyncInstrumentationType)?.GetMethod(TaskLayout.SynchronizeFlags, FieldAccessor.Static, Type.EmptyTypes);

    private readonly Dictionary<int, Task> _runtimeTasks;
    private readonly WeakTasks _weak = new();

    // The sweep's copy of the runtime's registry, kept between sweeps (only the sweeper uses it).
    private KeyValuePair<int, Task>[] _moving = [];

    private readonly bool _attached;

    private TaskRegistry(Dictionary<int, Task> runtimeTasks, bool attached)
    {
        _runtimeTasks = runtimeTasks;
        _attached = attached;
    }

    /// <summary>
    /// A registry the runtime does not fill (the runtime's own left as it is): what debug mode reads when the async events
    /// are its only source (<see cref="Tracking.StepSourceKind.AsyncEventsOnly"/>), where keeping every box in a table
    /// would cost as much as the events. It finds nothing.
    /// </summary>
    public static TaskRegistry Detached() => new(new Dictionary<int, Task>(), attached: false);

    /// <summary>False for a <see cref="Detached"/> registry.</summary>
    public bool IsAttached => _attached;

    /// <summary>The object the runtime locks to add a task to its registry or remove one (the dictionary itself).</summary>
    public object RuntimeLock => _runtimeTasks;

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
            SynchronizeFlags();
            return new TaskRegistry(tasks, attached: true);
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
        if (_attached)
        {
            s_enabledField?.SetValue(null, false);
            SynchronizeFlags();
        }
        using (EngineLocks.Hold(_runtimeTasks))
            _runtimeTasks.Clear();
        _weak.Clear();
        _moving = [];
    }

    // .NET 11 caches the flag with the other async instrumentation: a registry switched on after the program's first async
    // method (AsyncLeakScope.Begin in a test run, AsyncDebug.TrackTasks late) got no box at all until this.
    private static void SynchronizeFlags() => s_synchronizeFlags?.Invoke(null, null);

    /// <summary>The task with this id, if it is pending (or completing right now).</summary>
    public Task? Find(int id)
    {
        // Every step looks up its box, and the runtime takes the same lock on every task it adds and removes:
        // on two cores the lock's cache line bounces. Read without it first; a read torn by a concurrent
        // resize can only miss, throw, or return another task, and the id check catches the last. A miss is looked
        // up among the weak entries (a task pending for a while) before the runtime's lock is taken.
        try
        {
            if (_runtimeTasks.TryGetValue(id, out var unlocked) && unlocked.Id == id)
                return unlocked;
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or InvalidOperationException or NullReferenceException)
        {
        }
        if (_weak.Find(id) is { } moved)
            return moved;
        using (EngineLocks.Hold(_runtimeTasks))
            return _runtimeTasks.TryGetValue(id, out var task) ? task : null;
    }

    /// <summary>True when the runtime's registry holds tasks (strongly) that no sweep has moved yet.</summary>
    public bool HoldsStrongly => _runtimeTasks.Count > 0;

    /// <summary>
    /// Told, on the sweeper's thread, of each task that completed after a sweep moved it here (pending about a second or
    /// more), with its box and the await it was last parked on: the console's history of ended tasks.
    /// </summary>
    public Action<Task, BoxInfo?, int>? Ended { get; set; }

    /// <summary>
    /// Told on the app's thread as debug mode sees an async method end (its task, the await its last step resumed from, its
    /// creation record, the event's time in DateTime ticks, whether it ran to completion: false when it faulted or was
    /// cancelled), before the task completes: the console's history captures its last async stack there. When set,
    /// <see cref="Ended"/> is not told of the tasks debug mode sees end.
    /// </summary>
    public Action<Task, int, Tracking.TaskRecord?, long, bool>? Ending { get; set; }

    /// <summary>True while debug mode runs, and so tells <see cref="Ending"/> of every async method that ends.</summary>
    public bool EndsSeen { get; set; }

    private bool EndsCaptured => Ending is not null && EndsSeen;

    /// <summary>Called on the sweeper's thread after each sweep (the console's history turns what it captured into text there).</summary>
    public Action? Swept { get; set; }

    // Completions seen on the app's threads (debug mode's events), for Ended: handed to the sweeper, never handled there.
    private readonly System.Collections.Concurrent.ConcurrentQueue<(Task, BoxInfo?, int)> _ended = new();
    private const int MaxEndedQueued = 10_000;

    /// <summary>Called when a task completes: its weak entry, if any, is dropped.</summary>
    public void Completed(int id)
    {
        if (Ended is null || EndsCaptured)
            _weak.Remove(id);
        else if (_weak.Take(id) is { } entry && _ended.Count < MaxEndedQueued)
            _ended.Enqueue(entry);
    }

    /// <summary>
    /// Moves every task out of the runtime's registry. Those <paramref name="track"/> accepts get weak handles;
    /// the rest are dropped (a task that already completed: the runtime raises the completion event before it
    /// removes the task, so a sweep can catch one in between). <paramref name="track"/> runs under the lock that
    /// <see cref="Completed"/> takes, so a completion is seen either by it or by <see cref="Completed"/>.
    /// The runtime's lock, which every task creation and completion takes, is held only to copy its registry and then
    /// to take out a batch of moved tasks at a time: a task is in one table or the other, or both, at every moment.
    /// </summary>
    public void Sweep(Func<int, Task, bool> track)
    {
        int count;
        using (EngineLocks.Hold(_runtimeTasks))
        {
            count = _runtimeTasks.Count;
            if (count == 0)
                return;
            if (_moving.Length < count || _moving.Length > 4 * count + 1024)
                _moving = new KeyValuePair<int, Task>[count];
            ((ICollection<KeyValuePair<int, Task>>)_runtimeTasks).CopyTo(_moving, 0);
        }
        for (var start = 0; start < count; start += WeakTasks.Batch)
            _weak.Add(_moving, start, Math.Min(WeakTasks.Batch, count - start), track);
        for (var start = 0; start < count; start += WeakTasks.Batch)
        {
            using (EngineLocks.Hold(_runtimeTasks))
            {
                for (var i = start; i < Math.Min(count, start + WeakTasks.Batch); i++)
                {
                    if (_runtimeTasks.TryGetValue(_moving[i].Key, out var task) && ReferenceEquals(task, _moving[i].Value))
                        _runtimeTasks.Remove(_moving[i].Key);
                }
                // A burst of pending tasks leaves the runtime's dictionary as large as it was at its peak.
                if (_runtimeTasks.Count == 0 && _runtimeTasks.EnsureCapacity(0) > 4096)
                    _runtimeTasks.TrimExcess();
            }
        }
        Array.Clear(_moving, 0, count);
    }

    /// <summary>
    /// One pass over the tasks that left the runtime's registry, a batch at a time: completed ones are forgotten, and
    /// the await each pending box is parked on is noted (what a pending-collected report names, once it is gone).
    /// </summary>
    public void Refresh()
    {
        var ended = Ended;
        if (ended is null || EndsCaptured)
        {
            _weak.ForEach(static (task, box, _) =>
                task.IsCompleted ? Visit.Remove : Visit.Keep(box?.ReadState(task) is { } state && AsyncState.IsParked(state) ? state : AsyncState.Unknown));
            Swept?.Invoke();
            return;
        }
        var done = new List<(Task, BoxInfo?, int)>();
        while (_ended.TryDequeue(out var queued))
            done.Add(queued);
        _weak.ForEach((task, box, last) =>
        {
            if (!task.IsCompleted)
                return Visit.Keep(box?.ReadState(task) is { } state && AsyncState.IsParked(state) ? state : AsyncState.Unknown);
            done.Add((task, box, last));
            return Visit.Remove;
        });
        foreach (var (task, box, last) in done)
        {
            try
            {
                ended(task, box, last);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The sweeper is the app's thread too, in effect: a history entry that cannot be made is only lost.
            }
        }
    }

    /// <summary>Weak entries whose task was collected: removed and returned.</summary>
    public List<CollectedTask> TakeCollected()
    {
        var dead = new List<CollectedTask>();
        if (_weak.Count > 0)
            _weak.ForEach(static (_, _, _) => Visit.Keep(AsyncState.Unknown), dead);
        return dead;
    }

    /// <summary>Every task the registry knows now (pending async work), strong references for the caller's use.</summary>
    /// <summary>
    /// The box of a method of <paramref name="stateMachine"/> whose step runs now: the one such box registered in the running
    /// state (-1); null when there are none, or several.
    /// </summary>
    public Task? RunningBox(Type stateMachine)
    {
        Task? found = null;
        foreach (var task in Snapshot())
        {
            if (BoxInfo.Of(task) is { } box && box.StateMachineType == stateMachine && box.ReadState(task) == AsyncState.Running && !task.IsCompleted)
            {
                if (found is not null)
                    return null;
                found = task;
            }
        }
        return found;
    }

    public List<Task> Snapshot()
    {
        var all = new List<Task>(_weak.Count + 1024);
        using (EngineLocks.Hold(_runtimeTasks))
            all.AddRange(_runtimeTasks.Values);
        _weak.ForEach((task, _, _) =>
        {
            if (!task.IsCompleted)
                all.Add(task);
            return Visit.Keep(AsyncState.Unknown);
        });
        return all;
    }
}
