using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Runtime;

namespace AsyncLens.Bench.Web;

/// <summary>
/// What the load generator needs to know about the server: requests served, the process's CPU time
/// (all threads: Kestrel's, the thread pool's and, with debug mode on, AsyncLens's own), the JIT's
/// progress (to tell when tiered compilation has settled), GC counts and pauses, and whether AsyncLens
/// debug mode is on, and the long polls waiting. The app does not reference AsyncLens: it looks for the engine among
/// the loaded assemblies.
/// </summary>
internal sealed class ServerStats(StepCounter? steps, StallMonitor stalls, OrderUpdates updates)
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _requests;

    public void CountRequest() => Interlocked.Increment(ref _requests);

    /// <summary>The counters now; the longest stall and GC pause are those since the previous snapshot.</summary>
    public StatsSnapshot Snapshot()
    {
        var cpu = Environment.CpuUsage;
        var (stall, gcPause) = stalls.TakeLongest();
        return new StatsSnapshot(
            Requests: Interlocked.Read(ref _requests),
            UptimeUs: Stopwatch.GetElapsedTime(_started).TotalMicroseconds,
            CpuUs: cpu.TotalTime.TotalMicroseconds,
            UserCpuUs: cpu.UserTime.TotalMicroseconds,
            JitMethods: JitInfo.GetCompiledMethodCount(),
            JitMs: JitInfo.GetCompilationTime().TotalMilliseconds,
            Gen0: GC.CollectionCount(0),
            Gen1: GC.CollectionCount(1),
            Gen2: GC.CollectionCount(2),
            GcPauseUs: GC.GetTotalPauseDuration().TotalMicroseconds,
            AllocatedBytes: GC.GetTotalAllocatedBytes(),
            PoolThreads: ThreadPool.ThreadCount,
            LongestStallUs: stall.TotalMicroseconds,
            LongestGcPauseUs: gcPause.TotalMicroseconds,
            DebugMode: IsDebugModeOn(),
            AsyncSteps: steps?.Steps ?? -1,
            AsyncOperations: steps?.Operations ?? -1,
            SuspendingAwaits: steps?.Awaits ?? -1,
            LongPolls: updates.Waiting);
    }

    private static bool IsDebugModeOn()
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (assembly.GetName().Name == "AsyncLens.Engine")
                return assembly.GetType("AsyncLens.AsyncDebug")?.GetProperty("IsEnabled")?.GetValue(null) is true;
        }
        return false;
    }
}

internal sealed record StatsSnapshot(long Requests, double UptimeUs, double CpuUs, double UserCpuUs, long JitMethods, double JitMs,
    int Gen0, int Gen1, int Gen2, double GcPauseUs, long AllocatedBytes, int PoolThreads,
    double LongestStallUs, double LongestGcPauseUs, bool DebugMode,
    long AsyncSteps, long AsyncOperations, long SuspendingAwaits, int LongPolls)
{
    public string ToKeyValues() => string.Create(CultureInfo.InvariantCulture,
        $"requests={Requests} uptime_s={UptimeUs / 1e6:F1} cpu_s={CpuUs / 1e6:F2} cpu_us_per_req={CpuUs / Math.Max(Requests, 1):F1} jit_methods={JitMethods} gen0={Gen0} gen1={Gen1} gen2={Gen2} debug_mode={(DebugMode ? "on" : "off")} async_steps={AsyncSteps} async_operations={AsyncOperations} suspending_awaits={SuspendingAwaits}");
}

/// <summary>
/// A thread outside the thread pool that sleeps 5 ms at a time and notes how late it wakes up (the
/// longest stall: the GC suspending the process, the machine not giving it a CPU, the hypervisor
/// taking the vCPU away) and the longest GC pause in one such interval. It shows whether the app
/// stalls as long without debug mode as a <c>slow-step</c> report says a step took with it.
/// </summary>
internal sealed class StallMonitor
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(5);

    private long _longestStallTicks;
    private long _longestPauseTicks;

    public StallMonitor()
    {
        var thread = new Thread(Watch) { IsBackground = true, Name = "stall monitor" };
        thread.Start();
    }

    /// <summary>The longest stall and GC pause since the previous call.</summary>
    public (TimeSpan Stall, TimeSpan GcPause) TakeLongest() =>
        (TimeSpan.FromTicks(Interlocked.Exchange(ref _longestStallTicks, 0)), TimeSpan.FromTicks(Interlocked.Exchange(ref _longestPauseTicks, 0)));

    private void Watch()
    {
        var pause = GC.GetTotalPauseDuration();
        while (true)
        {
            var start = Stopwatch.GetTimestamp();
            Thread.Sleep(s_interval);
            Raise(ref _longestStallTicks, (Stopwatch.GetElapsedTime(start) - s_interval).Ticks);
            var now = GC.GetTotalPauseDuration();
            Raise(ref _longestPauseTicks, (now - pause).Ticks);
            pause = now;
        }
    }

    private static void Raise(ref long longest, long ticks)
    {
        var seen = Volatile.Read(ref longest);
        while (ticks > seen)
        {
            var previous = Interlocked.CompareExchange(ref longest, ticks, seen);
            if (previous == seen)
                return;
            seen = previous;
        }
    }
}

/// <summary>
/// Counts what the runtime's TPL event source reports (the events AsyncLens debug mode listens to):
/// steps of async methods (one <c>MoveNext</c> each), async operations begun (async-method tasks) and
/// awaits that suspended. Only for <c>--count-steps</c>: listening costs time.
/// </summary>
internal sealed class StepCounter : EventListener
{
    private long _steps;
    private long _operations;
    private long _awaits;

    public long Steps => Interlocked.Read(ref _steps);

    public long Operations => Interlocked.Read(ref _operations);

    public long Awaits => Interlocked.Read(ref _awaits);

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        // Keywords Tasks | AsyncCausalityOperation | AsyncCausalitySynchronousWork, as AsyncLens enables them.
        if (eventSource.Name == "System.Threading.Tasks.TplEventSource")
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)(0x2 | 0x8 | 0x20));
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        switch (eventData.EventId)
        {
            case 17: // TraceSynchronousWorkBegin
                Interlocked.Increment(ref _steps);
                break;
            case 14: // TraceOperationBegin
                Interlocked.Increment(ref _operations);
                break;
            case 10: // TaskWaitBegin
                Interlocked.Increment(ref _awaits);
                break;
        }
    }
}
