using System.Diagnostics;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// A .NET process or core dump opened for reading from outside, with ClrMD. A live process is suspended
/// (ptrace) from <see cref="Attach"/> to <see cref="Dispose"/>: the commands read what they need, then let it go.
/// If asynclens dies meanwhile (even by SIGKILL) the kernel detaches it and the process runs on.
/// Every failure a user can cause becomes a <see cref="CliException"/>: one line, exit code 2.
/// </summary>
internal sealed class Target : IDisposable
{
    private readonly DataTarget _dataTarget;
    private readonly DataTarget? _attached;
    private readonly Stopwatch _paused;

    private Target(DataTarget dataTarget, DataTarget? attached, ClrRuntime runtime, int processId, string? dumpPath, Stopwatch paused)
    {
        _dataTarget = dataTarget;
        _attached = attached;
        Runtime = runtime;
        ProcessId = processId;
        DumpPath = dumpPath;
        _paused = paused;
    }

    public ClrRuntime Runtime { get; }

    public int ProcessId { get; }

    /// <summary>The core dump read, or null for a live process.</summary>
    public string? DumpPath { get; }

    /// <summary>
    /// How long the process has been suspended, from just before the attach until <see cref="Dispose"/>;
    /// for a dump, how long opening and reading it took.
    /// </summary>
    public TimeSpan Paused => _paused.Elapsed;

    /// <summary>When the state read was current: now for a live process, the file's time for a dump.</summary>
    public DateTimeOffset TakenAt => DumpPath is null ? DateTimeOffset.UtcNow : new DateTimeOffset(File.GetLastWriteTimeUtc(DumpPath), TimeSpan.Zero);

    private bool _disposed;

    /// <summary>Suspends process <paramref name="pid"/> and opens its runtime.</summary>
    public static Target Attach(int pid)
    {
        var name = ProcessName(pid) ?? throw new CliException($"no process with id {pid}");
        if (pid == Environment.ProcessId)
            throw new CliException("asynclens cannot read itself");
        if (OtherTracer(ThreadTracers(pid)) is { } before)
            throw AlreadyTraced(pid, name, before);
        var paused = Stopwatch.StartNew();
        var attached = Stop(pid, name);
        DataTarget? reading = null;
        try
        {
            // Reads go through a snapshot of the stopped process's memory (one system call per 64 KB block, not per field).
            reading = new DataTarget(new SnapshotReader(attached.DataReader), new DataTargetOptions());
            var runtime = OpenRuntime(reading, () => $"process {pid} ({name}) is not a .NET process (no .NET runtime is loaded in it)");
            return new Target(reading, attached, runtime, pid, null, paused);
        }
        catch (Exception ex)
        {
            reading?.Dispose();
            attached.Dispose();
            if (ex is CliException)
                throw;
            throw IsRunning(pid) ? new CliException($"cannot open the .NET runtime of process {pid} ({name}): {OneLine(ex)}")
                : new CliException($"process {pid} exited before it could be read");
        }
    }

    // ptrace-attaches every thread. ClrMD attaches the threads it lists one by one: a thread started meanwhile
    // runs on (and its writes would tear the read), so every thread is checked and the attach retried.
    // ClrMD's attach also does not fail when another tracer holds a thread: checked here too.
    private static DataTarget Stop(int pid, string name)
    {
        for (var attempt = 1; ; attempt++)
        {
            DataTarget attached;
            try
            {
                attached = DataTarget.AttachToProcess(pid, suspend: true);
            }
            catch (Exception ex) when (ex is not CliException)
            {
                throw Explain(pid, name, ex);
            }
            var tracers = ThreadTracers(pid);
            if (OtherTracer(tracers) is null && !tracers.Contains(0))
                return attached;
            attached.Dispose();
            if (!IsRunning(pid))
                throw new CliException($"process {pid} exited before it could be read");
            if (OtherTracer(tracers) is { } tracer)
                throw AlreadyTraced(pid, name, tracer);
            if (attempt == 3)
                throw new CliException($"process {pid} ({name}) kept starting threads while asynclens stopped it (3 tries): try again");
        }
    }

    /// <summary>Opens a core dump (<c>asynclens dump-core</c>, <c>dotnet-dump collect</c>, or the kernel's).</summary>
    public static Target Open(string dumpPath)
    {
        if (!File.Exists(dumpPath))
            throw new CliException($"no such dump file: {dumpPath}");
        var reading = Stopwatch.StartNew();
        DataTarget dataTarget;
        try
        {
            dataTarget = DataTarget.LoadDump(dumpPath);
        }
        catch (Exception ex) when (ex is not CliException)
        {
            throw new CliException($"'{dumpPath}' is not a readable core dump ({OneLine(ex)})");
        }
        try
        {
            var runtime = OpenRuntime(dataTarget, () => $"'{dumpPath}' holds no .NET runtime (not a .NET process, or a truncated dump)");
            return new Target(dataTarget, null, runtime, dataTarget.DataReader.ProcessId, dumpPath, reading);
        }
        catch (Exception ex) when (ex is not CliException)
        {
            dataTarget.Dispose();
            throw new CliException($"'{dumpPath}' is not a readable core dump ({OneLine(ex)})");
        }
        catch
        {
            dataTarget.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fails when what was read cannot be trusted: the process exited while it was read, or the dump ends
    /// early (its heap could not be walked). Called after reading, before anything is printed.
    /// </summary>
    public void CheckStillReadable()
    {
        if (DumpPath is null && !IsRunning(ProcessId))
            throw new CliException($"process {ProcessId} exited while it was being read");
        if (!Runtime.Heap.CanWalkHeap)
            throw new CliException(DumpPath is null
                ? $"the heap of process {ProcessId} cannot be walked right now (a garbage collection is in progress): try again"
                : $"the heap in '{DumpPath}' cannot be walked (a truncated dump, or one taken during a garbage collection)");
    }

    /// <summary>
    /// Turns a failure while reading into the one line that says what happened: a process that died meanwhile
    /// explains any failure (even a "no Task type", read from memory already gone).
    /// </summary>
    public CliException Failed(Exception ex) =>
        DumpPath is null && !IsRunning(ProcessId) ? new CliException($"process {ProcessId} exited while it was being read")
        : ex is CliException said ? said
        : ex is NoTaskTypeException ? new CliException(DumpPath is null
            ? $"process {ProcessId}'s runtime has no System.Threading.Tasks.Task type (not a .NET version asynclens reads)"
            : $"'{DumpPath}' holds no managed heap to read tasks from (a mini dump?): write one with 'asynclens dump-core PID -o FILE' (--type heap or full)")
        : DumpPath is null ? new CliException($"reading process {ProcessId} failed: {OneLine(ex)}")
        : new CliException($"'{DumpPath}' could not be read to the end (a truncated dump?): {OneLine(ex)}");

    /// <summary>Lets the process run again (detaches). Commands call it as soon as they have read, before writing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Runtime.Dispose();
        _dataTarget.Dispose();
        _attached?.Dispose(); // detaches: the process runs again
        _paused.Stop();
    }

    private static ClrRuntime OpenRuntime(DataTarget dataTarget, Func<string> notDotnet)
    {
        if (dataTarget.ClrVersions.Length == 0)
            throw new CliException(notDotnet());
        return dataTarget.ClrVersions[0].CreateRuntime();
    }

    private static CliException Explain(int pid, string name, Exception ex)
    {
        if (!IsRunning(pid))
            return new CliException($"process {pid} exited before it could be read");
        if (OtherTracer(ThreadTracers(pid)) is { } tracer)
            return AlreadyTraced(pid, name, tracer);
        var message = OneLine(ex);
        if (ex is UnauthorizedAccessException || message.Contains("permission", StringComparison.OrdinalIgnoreCase)
            || message.Contains("EPERM", StringComparison.Ordinal) || message.Contains("not permitted", StringComparison.OrdinalIgnoreCase)
            || message.Contains("Access is denied", StringComparison.OrdinalIgnoreCase))
        {
            return new CliException($"no permission to read process {pid} ({name}): run asynclens as its user or as root "
                + "(and check /proc/sys/kernel/yama/ptrace_scope)");
        }
        return new CliException($"cannot attach to process {pid} ({name}): {message}");
    }

    /// <summary>The name of a running process, or null when there is none with that id.</summary>
    public static string? ProcessName(int pid)
    {
        if (pid <= 0)
            return null;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited ? null : process.ProcessName;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>True while process <paramref name="pid"/> exists and has not exited (a zombie has).</summary>
    public static bool IsRunning(int pid) =>
        OperatingSystem.IsLinux() ? Status(pid, "State:") is { } state && !state.Contains('Z') && !state.Contains('X') : ProcessName(pid) is not null;

    private static CliException AlreadyTraced(int pid, string name, int tracer) =>
        new($"process {pid} ({name}) is already being traced by process {tracer} ({ProcessName(tracer) ?? "?"}): "
            + "a debugger, strace or another asynclens; detach it and try again");

    // The tracer of each of pid's threads (0: none), from TracerPid in /proc (Linux; elsewhere none known).
    private static List<int> ThreadTracers(int pid)
    {
        var tracers = new List<int>();
        if (!OperatingSystem.IsLinux())
            return tracers;
        try
        {
            foreach (var thread in Directory.GetDirectories($"/proc/{pid}/task"))
            {
                if (int.TryParse(Status(thread, "TracerPid:"), out var tracer))
                    tracers.Add(tracer);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return tracers;
    }

    // A tracer that is not asynclens.
    private static int? OtherTracer(List<int> tracers) =>
        tracers.FirstOrDefault(t => t != 0 && t != Environment.ProcessId) is var other and not 0 ? other : null;

    // One field of /proc/PID/status ("State:" -> "S (sleeping)"), or null.
    private static string? Status(int pid, string field) => Status($"/proc/{pid}", field);

    private static string? Status(string procDir, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"{procDir}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return line[field.Length..].Trim();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static string OneLine(Exception ex)
    {
        var message = ex.Message.ReplaceLineEndings(" ").Trim();
        return message.Length > 400 ? message[..400] + "..." : message;
    }
}
