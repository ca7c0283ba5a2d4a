using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Diagnosis;

internal enum ThreadActivity
{
    /// <summary>A pool worker between work items, or a thread of the runtime's or a framework's waiting with none of the user's code on its stack.</summary>
    Idle,

    /// <summary>Running (or in native code, or somewhere not recognised as a wait).</summary>
    Running,

    /// <summary>In a blocking wait with the user's code under it: on a task, a lock, an event, a sleep.</summary>
    Blocked,
}

/// <summary>What a thread is doing, from its frames: one place says what "blocked", "idle" and "a pool worker" mean.</summary>
internal static class ThreadStates
{
    // The runtime's types whose methods wait: a thread whose top frames are theirs is blocked (or idle, when none of
    // the user's code is under them). Public types: their names are part of .NET, not its private layout.
    private static readonly string[] s_waitTypes =
    [
        "System.Threading.Monitor", "System.Threading.WaitHandle", "System.Threading.Thread", "System.Threading.ManualResetEventSlim",
        "System.Threading.SemaphoreSlim", "System.Threading.Lock", "System.Threading.SpinWait", "System.Threading.CountdownEvent",
        "System.Threading.Barrier", "System.Threading.ReaderWriterLockSlim", "System.Threading.Tasks.Task", "System.Threading.LowLevelLock",
        "System.Threading.LowLevelMonitor", "System.Threading.LowLevelLifoSemaphore", "System.Threading.WaitSubsystem",
        "System.Threading.Mutex", "System.Threading.EventWaitHandle", "System.Threading.Semaphore",
    ];

    // How a thread blocks on a task, by the public method it called (Release builds may inline it away: then none).
    private static readonly (string RuntimeName, string How)[] s_taskWaits =
    [
        ("System.Threading.Tasks.Task.get_Result", ".Result"),
        ("System.Threading.Tasks.Task.GetResultCore", ".Result"),
        ("System.Threading.Tasks.Task.Wait", ".Wait()"),
        ("System.Threading.Tasks.Task.WaitAll", "Task.WaitAll"),
        ("System.Threading.Tasks.Task.WaitAny", "Task.WaitAny"),
        ("System.Runtime.CompilerServices.TaskAwaiter.GetResult", "GetAwaiter().GetResult()"),
        ("System.Runtime.CompilerServices.ConfiguredTaskAwaitable+ConfiguredTaskAwaiter.GetResult", "GetAwaiter().GetResult()"),
        ("System.Runtime.CompilerServices.TaskAwaiter.HandleNonSuccessAndDebuggerNotification", "GetAwaiter().GetResult()"),
        ("System.Runtime.CompilerServices.TaskAwaiter.ValidateEnd", "GetAwaiter().GetResult()"),
    ];

    private const string WorkerStart = ThreadPoolLayout.WorkerThreadType + "." + ThreadPoolLayout.WorkerThreadStart;

    private const string Dispatch = ThreadPoolLayout.WorkQueueType + "." + ThreadPoolLayout.DispatchMethod;

    public static bool IsPoolWorker(ObservedThread thread) => thread.Frames.Any(f => f.RuntimeName == WorkerStart);

    public static ThreadActivity Of(ObservedThread thread)
    {
        var user = UserFrame(thread);
        if (thread.BlockedOn is not null)
            return ThreadActivity.Blocked;
        if (IsPoolWorker(thread) && !thread.Frames.Any(f => f.RuntimeName == Dispatch))
            return ThreadActivity.Idle;
        if (!IsWaiting(thread))
            return ThreadActivity.Running;
        return user is null ? ThreadActivity.Idle : ThreadActivity.Blocked;
    }

    /// <summary>True when the top frames, down to the first of the user's, are the runtime's waits.</summary>
    public static bool IsWaiting(ObservedThread thread)
    {
        var frames = thread.Frames;
        return frames.Count > 0 && frames[0].RuntimeName is { } top && IsWaitName(top);
    }

    /// <summary>
    /// The first frame of the user's code, from the top: of the app's own modules, with a line or without (a Release
    /// build's loop compiled again while it ran has none); a package's frame is not the user's, whatever its PDB says.
    /// </summary>
    public static ThreadFrameText? UserFrame(ObservedThread thread) => thread.Frames.FirstOrDefault(f => f.App);

    /// <summary>
    /// Where a blocked thread blocks: the frame that called the runtime's wait. When it is not the user's (a handler a
    /// Release build inlined into the framework's dynamic method), the user's frame under it says where, and it is named too.
    /// </summary>
    public static (ThreadFrameText? Caller, ThreadFrameText? User) Blocker(ObservedThread thread)
    {
        var user = UserFrame(thread);
        var caller = thread.Frames.FirstOrDefault(f => f.RuntimeName is null || !IsWaitName(f.RuntimeName) && !s_taskWaits.Any(w => w.RuntimeName == f.RuntimeName));
        return (caller is null || caller == user || caller.App ? null : caller, user);
    }

    private static bool IsWaitName(string name) => s_waitTypes.Any(t => name.StartsWith(t + ".", StringComparison.Ordinal) && name.IndexOf('.', t.Length + 1) < 0);

    /// <summary>How the thread waits for a task (<c>.Result</c>, <c>.Wait()</c>, <c>GetAwaiter().GetResult()</c>), from the frames above the user's; null when not seen.</summary>
    public static string? HowItWaits(ObservedThread thread)
    {
        string? how = null;
        foreach (var frame in thread.Frames)
        {
            if (frame.App)
                break;
            foreach (var (name, text) in s_taskWaits)
            {
                if (frame.RuntimeName == name)
                    how = text;
            }
        }
        return how;
    }

    /// <summary>What a blocked thread waits for, when it is a task: the graph node it awaits.</summary>
    public static TaskNode? WaitedTask(ObservedThread thread) => thread.BlockedOn is { Awaits.Count: > 0 } node ? node.Awaits[0] : null;
}
