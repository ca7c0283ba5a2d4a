using AsyncLens.Agent;

namespace AsyncLens.Diagnosis;

/// <summary>
/// The thread pool's figures as read from inside, the one place for the console's <c>pool</c> and the watchdog: .NET's
/// public API (<see cref="ThreadPool.ThreadCount"/>, <see cref="ThreadPool.PendingWorkItemCount"/>,
/// <see cref="ThreadPool.CompletedWorkItemCount"/>, minimum, maximum, available: busy = max - available) and the
/// kernel's word on which workers are on a processor (a busy worker off it waits in its work item). Starved is the
/// doctor's rule (<see cref="Doctor.IsStarved"/>) on the waiting ones.
/// </summary>
internal sealed record PoolFigures(int Threads, int Min, int Max, int Busy, int Running, long Queued, long Completed)
{
    /// <summary>Busy workers not on a processor: blocked in their work item.</summary>
    public int Waiting => Busy - Running;

    public bool Starved => Doctor.IsStarved(Waiting, Threads, Queued);

    /// <param name="runningWorkers">The pool's workers the kernel shows running now.</param>
    public static PoolFigures Read(int runningWorkers)
    {
        ThreadPool.GetMinThreads(out var min, out _);
        ThreadPool.GetMaxThreads(out var max, out _);
        ThreadPool.GetAvailableThreads(out var available, out _);
        var count = ThreadPool.ThreadCount;
        var busy = Math.Clamp(max - available, 0, count);
        return new PoolFigures(count, min, max, busy, Math.Min(busy, runningWorkers), ThreadPool.PendingWorkItemCount, ThreadPool.CompletedWorkItemCount);
    }

    /// <summary>The same, the running workers counted by their name (the runtime's portable pool names them so on Linux).</summary>
    public static PoolFigures Read() => Read(LiveThreads.OsThreads().Count(t => t.Name == LiveThreads.PoolWorkerName && t.State == LiveThreads.RunningState));
}
