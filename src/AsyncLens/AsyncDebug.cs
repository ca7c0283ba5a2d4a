using AsyncLens.Hosting;
using AsyncLens.Inventory;
using AsyncLens.Tracking;

namespace AsyncLens;

/// <summary>
/// Debug mode for async code, the .NET form of <c>asyncio.run(debug=True)</c>: reports slow and hung
/// steps, blocking waits on tasks, unobserved task exceptions and async methods collected while
/// pending, each with its async stack and creation site. Switch it on here, with
/// <c>asynclens run -- app</c>, or with <c>ASYNCLENS_DEBUG=1</c> and the startup hook.
/// <para>
/// The task inventory (<see cref="GetPendingTasks"/>, <see cref="WriteTasks"/>, <c>kill -USR1</c>) works in
/// debug mode, or alone, much cheaper, after <see cref="TrackTasks(bool)"/>.
/// </para>
/// </summary>
public static class AsyncDebug
{
    private static readonly object s_gate = new();
    private static DebugEngine? s_engine;
    private static TaskTracking? s_tracking;
    private static TaskTracking? s_eventsOnlyTracking;
    private static bool s_trackingRequested;
    private static int s_profilerUsers;
    private static Agent.ConsoleAgent? s_console;

    /// <summary>True while debug mode is on.</summary>
    public static bool IsEnabled => Volatile.Read(ref s_engine) is not null;

    /// <summary>Switches debug mode on with default options (100 ms threshold, text to standard error).</summary>
    public static void Enable() => Enable(new AsyncDebugOptions());

    /// <summary>Switches debug mode on; if it is on already, it restarts with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="PlatformNotSupportedException">The runtime lacks the internals debug mode reads.</exception>
    public static void Enable(AsyncDebugOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (s_gate)
        {
            s_engine?.Dispose();
            var output = options.Output ?? Console.Error;
            var source = StepSource.FromEnvironment(Console.Error);
            // On the async events alone the runtime's registry stays off (it costs as much as they do), unless the
            // inventory is on already; the engine's own tracking, detached, is let go with it.
            s_eventsOnlyTracking?.Dispose();
            s_eventsOnlyTracking = source == StepSourceKind.AsyncEventsOnly && s_tracking is null ? TaskTracking.Detached() : null;
            Symbols.HandlerRoutes.Watch(); // as Tracking() does: handlers are named by their route in every mode
            Volatile.Write(ref s_engine, DebugEngine.Start(options, s_eventsOnlyTracking ?? Tracking(), output, source));
            if (options.DumpOnSignal)
                DumpSignal.Install(output, options.DumpFormat);
        }
    }

    /// <summary>Switches debug mode off, writing what is still queued (and unobserved exceptions still pending).</summary>
    public static void Disable()
    {
        lock (s_gate)
        {
            s_engine?.Dispose();
            s_engine = null;
            s_eventsOnlyTracking?.Dispose();
            s_eventsOnlyTracking = null;
            if (!s_trackingRequested && s_profilerUsers == 0)
            {
                s_tracking?.Dispose();
                s_tracking = null;
                DumpSignal.Remove();
            }
        }
    }

    /// <summary>
    /// Keeps an inventory of pending async work without debug mode (the runtime's own active-task registry:
    /// see docs/performance.md for what it costs), for <see cref="GetPendingTasks"/>, <see cref="WriteTasks"/>
    /// and, with <paramref name="dumpOnSignal"/>, <c>kill -USR1 &lt;pid&gt;</c> writing the stacks to standard error.
    /// Call it at startup: tasks created before it are not seen.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The runtime lacks the internals the inventory reads.</exception>
    public static void TrackTasks(bool dumpOnSignal = true) => TrackTasks(dumpOnSignal, Console.Error, TaskDumpFormat.Stacks);

    internal static void TrackTasks(bool dumpOnSignal, TextWriter dumpOutput, TaskDumpFormat dumpFormat)
    {
        lock (s_gate)
        {
            s_trackingRequested = true;
            Tracking();
            if (dumpOnSignal)
                DumpSignal.Install(dumpOutput, dumpFormat);
        }
    }

    /// <summary>
    /// Starts the live console: <c>asynclens console &lt;pid&gt;</c> (or a script speaking docs/console.md's protocol)
    /// can then list, explain and cancel this process's pending async work. It listens on a Unix socket in a directory
    /// only this user can enter (<c>/tmp/asynclens-UID/PID.sock</c>), lets in this user and root only, and never opens a
    /// TCP port. Starts the task inventory if nothing did (as <see cref="TrackTasks(bool)"/>); with debug mode on, it
    /// also knows creation sites and ages. Calling it again returns the same socket.
    /// </summary>
    /// <returns>The socket's path.</returns>
    /// <exception cref="PlatformNotSupportedException">Not Linux, or the runtime lacks the internals the inventory reads.</exception>
    /// <exception cref="InvalidOperationException">The socket cannot be made (the message says why: a directory someone else owns, ...).</exception>
    public static string StartConsole() => StartConsole(Console.Error);

    internal static string StartConsole(TextWriter errors)
    {
        lock (s_gate)
        {
            if (s_console is not null)
                return s_console.SocketPath;
            s_trackingRequested = true;
            Tracking();
            var history = new Agent.TerminatedHistory(
                Agent.TerminatedHistory.SizeFrom(Environment.GetEnvironmentVariable(Agent.TerminatedHistory.SizeVariable)), () => Volatile.Read(ref s_engine)?.Inventory.Sites);
            try
            {
                s_console = Agent.ConsoleAgent.Start(errors, new Agent.ConsoleCommands(Inventory, history));
                if (history.IsOn)
                {
                    var registry = Tracking().Registry;
                    registry.Ended = history.Record;
                    registry.Ending = history.Capture;
                    registry.Swept = history.Drain;
                }
            }
            catch (Agent.ConsoleUnavailableException ex)
            {
                throw OperatingSystem.IsLinux() ? new InvalidOperationException("asynclens console: " + ex.Message, ex) : new PlatformNotSupportedException("asynclens console: " + ex.Message, ex);
            }
            return s_console.SocketPath;
        }
    }

    /// <summary>
    /// A snapshot of all pending async work: each async method with the await it is parked on and what that
    /// awaits, who awaits it, and (in debug mode) where and when it was created. Starts the inventory if
    /// neither debug mode nor <see cref="TrackTasks(bool)"/> did.
    /// </summary>
    public static IReadOnlyList<PendingTask> GetPendingTasks() => Inventory().Tasks();

    /// <summary>Writes a snapshot of all pending async work as a tree, as async stacks, or as JSON.</summary>
    public static void WriteTasks(TextWriter writer, TaskDumpFormat format = TaskDumpFormat.Tree)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!Enum.IsDefined(format))
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown dump format.");
        Inventory().Write(writer, format);
    }

    /// <summary>Hands a finding made outside the engine (a forgotten task's fault) to debug mode's writer; false when it is off.</summary>
    /// <summary>Debug mode's hung-step threshold (DateTime ticks); null when it is off.</summary>
    internal static long? HungStepTicks => Volatile.Read(ref s_engine)?.HungTicks;

    internal static bool Report(Reporting.Finding finding)
    {
        if (Volatile.Read(ref s_engine) is not { } engine)
            return false;
        engine.Report(finding);
        return true;
    }

    /// <summary>The inventory of whichever mode is on (for the signal dump).</summary>
    internal static TaskInventory Inventory()
    {
        lock (s_gate)
            return (s_eventsOnlyTracking is null ? s_engine?.Inventory : null) ?? new TaskInventory(Tracking());
    }

    /// <summary>The task registry for the profiler, kept on until <see cref="ReleaseTracking"/>.</summary>
    internal static Runtime.TaskRegistry AcquireTracking()
    {
        lock (s_gate)
        {
            s_profilerUsers++;
            return Tracking().Registry;
        }
    }

    internal static void ReleaseTracking()
    {
        lock (s_gate)
        {
            if (--s_profilerUsers == 0 && s_engine is null && !s_trackingRequested)
            {
                s_tracking?.Dispose();
                s_tracking = null;
            }
        }
    }

    private static TaskTracking Tracking()
    {
        // Every mode names minimal-API handlers by their route: the app's host is only announced once, at its start.
        Symbols.HandlerRoutes.Watch();
        return s_tracking ??= TaskTracking.Start() ?? throw new PlatformNotSupportedException(
            "AsyncLens cannot run here: this runtime lacks the task internals it reads (Task.s_asyncDebuggingEnabled, m_continuationObject)");
    }
}
