using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace AsyncLens.Runtime;

/// <summary>
/// The locks AsyncLens takes on the app's threads (its task tables, the runtime's registry of active tasks). Another
/// thread may hold one while it is preempted, and the app's thread then waits for AsyncLens, not for its own code:
/// that wait is timed, per thread (<see cref="BlockedOnThisThread"/>),, and taken off the step it happened in. Only a
/// lock that was not free at once is timed, so the usual case costs nothing more.
/// </summary>
internal static class EngineLocks
{
    [ThreadStatic] private static StrongBox<long>? t_blocked;

    /// <summary>
    /// The time this thread has waited for AsyncLens's locks, in <see cref="TimeSpan"/> ticks: a box the thread adds
    /// to, which others (the watchdog) may read.
    /// </summary>
    public static StrongBox<long> BlockedOnThisThread => t_blocked ??= new StrongBox<long>();

    /// <summary>Takes <paramref name="gate"/>, timing the wait if it was not free.</summary>
    public static Held Hold(Lock gate)
    {
        if (!gate.TryEnter())
        {
            var start = Stopwatch.GetTimestamp();
            gate.Enter();
            BlockedOnThisThread.Value += Stopwatch.GetElapsedTime(start).Ticks;
        }
        return new Held(gate);
    }

    /// <summary>Takes the monitor of <paramref name="gate"/> (an object the runtime locks too), timing the wait if it was not free.</summary>
    public static HeldMonitor Hold(object gate)
    {
        if (!Monitor.TryEnter(gate))
        {
            var start = Stopwatch.GetTimestamp();
            Monitor.Enter(gate);
            BlockedOnThisThread.Value += Stopwatch.GetElapsedTime(start).Ticks;
        }
        return new HeldMonitor(gate);
    }

    public readonly ref struct Held(Lock gate)
    {
        public void Dispose() => gate.Exit();
    }

    public readonly ref struct HeldMonitor(object gate)
    {
        public void Dispose() => Monitor.Exit(gate);
    }
}
