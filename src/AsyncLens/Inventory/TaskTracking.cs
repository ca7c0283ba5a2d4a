using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens.Inventory;

/// <summary>
/// The task inventory's base: the runtime's active-task registry switched on, and one thread that once a
/// second moves its tasks to weak handles (so that a leaked pending task can still be collected), notes the
/// await each pending box is parked on, and forgets completed ones. Cheap enough to keep on in production
/// (docs/performance.md); debug mode runs on top of it.
/// </summary>
internal sealed class TaskTracking : IDisposable
{
    private readonly ManualResetEventSlim _stop = new();
    private readonly Lock _sweeping = new();
    private readonly Thread _sweeper;

    private TaskTracking(TaskRegistry registry)
    {
        Registry = registry;
        _sweeper = new Thread(Run) { IsBackground = true, Name = "AsyncLens task sweeper" };
        _sweeper.Start();
    }

    public TaskRegistry Registry { get; }

    /// <summary>Which tasks leaving the runtime's registry to keep (debug mode drops boxes that already completed).</summary>
    public Func<int, Task, bool> Keep { get; set; } = static (_, task) => !task.IsCompleted;

    /// <summary>Tracking over a registry the runtime does not fill (<see cref="TaskRegistry.Detached"/>).</summary>
    public static TaskTracking Detached() => new(TaskRegistry.Detached());

    public static TaskTracking? Start() => TaskInternals.IsAvailable && TaskRegistry.Enable() is { } registry ? new TaskTracking(registry) : null;

    public TaskGraph Snapshot() => TaskGraph.Build(Registry.Snapshot());

    /// <summary>Moves the registry's tasks to weak handles and refreshes what is known of them (this thread's, or the watchdog's when the app collects).</summary>
    public void Sweep()
    {
        lock (_sweeping)
        {
            Registry.Sweep(Keep);
            Registry.Refresh();
        }
    }

    public void Dispose()
    {
        _stop.Set();
        if (Thread.CurrentThread != _sweeper)
            _sweeper.Join(TimeSpan.FromSeconds(2));
        Registry.Dispose();
    }

    private void Run()
    {
        ThreadTracker.IsEngineThread = true;
        while (!_stop.Wait(TimeSpan.FromSeconds(1)))
        {
            try
            {
                Sweep();
            }
            catch (Exception ex) when (ex is InvalidOperationException or NullReferenceException or ObjectDisposedException)
            {
                // A task torn away mid-read: the next sweep sees a consistent registry.
            }
        }
    }
}
