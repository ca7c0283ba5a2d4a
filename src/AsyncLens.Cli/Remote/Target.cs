using System.Diagnostics;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// A .NET process or core dump opened for reading from outside, with ClrMD. A live process is stopped (ptrace)
/// only while <see cref="Attach"/> copies what the reader needs (<see cref="ProcessCopy"/>), then runs on: its
/// runtime is opened, and everything read, from that copy. If asynclens dies meanwhile (even by SIGKILL) the
/// kernel detaches it and the process runs on. Every failure a user can cause becomes a <see cref="CliException"/>:
/// one line, exit code 2.
/// </summary>
internal sealed class Target : IDisposable
{
    // A process stopped in the middle of a garbage collection cannot be read: it is let go to finish it and
    // stopped again, up to this many times (waiting 10, 20, 40... ms between: a blocking gen2 collection of a
    // large heap takes a while).
    private const int MaxStops = 8;

    private readonly DataTarget _dataTarget;
    private readonly ProcessSnapshot? _snapshot;
    private readonly Stopwatch _clock;
    private readonly DateTimeOffset _takenAt;
    private readonly IReadOnlyList<TimeSpan> _stops;

    private Target(DataTarget dataTarget, ClrRuntime runtime, int processId, string? dumpPath, ProcessSnapshot? snapshot, Stopwatch clock,
        DateTimeOffset takenAt, IReadOnlyList<TimeSpan> stops)
    {
        _dataTarget = dataTarget;
        Runtime = runtime;
        ProcessId = processId;
        DumpPath = dumpPath;
        _snapshot = snapshot;
        _clock = clock;
        _takenAt = takenAt;
        _stops = stops;
    }

    public ClrRuntime Runtime { get; }

    public int ProcessId { get; }

    /// <summary>The core dump read, or null for a live process.</summary>
    public string? DumpPath { get; }

    /// <summary>What the read cost so far: for <c>--stats</c>, taken before <see cref="Dispose"/>.</summary>
    public ReadFigures Figures => new(_stops.Aggregate(TimeSpan.Zero, (sum, stop) => sum + stop), _stops.Count, _snapshot?.CopiedBytes ?? 0, _clock.Elapsed, _snapshot?.UnreadableBytes ?? 0);

    /// <summary>When the state read was current: when the process was stopped, or the file's time for a dump.</summary>
    public DateTimeOffset TakenAt => DumpPath is null ? _takenAt : new DateTimeOffset(File.GetLastWriteTimeUtc(DumpPath), TimeSpan.Zero);

    private bool _disposed;

    /// <summary>Stops process <paramref name="pid"/>, copies what the reader needs, lets it run on, and opens its runtime from the copy.</summary>
    public static Target Attach(int pid)
    {
        var name = ProcessName(pid) ?? throw new CliException($"no process with id {pid}");
        if (pid == Environment.ProcessId)
            throw new CliException("asynclens cannot read itself");
        if (OtherTracer(ThreadTracers(pid)) is { } before)
            throw AlreadyTraced(pid, name, before);
        var clock = Stopwatch.StartNew();
        var stops = new List<TimeSpan>();
        var files = new FileIdentities(pid);
        for (var stop = 1; ; stop++)
        {
            var takenAt = DateTimeOffset.UtcNow;
            var snapshot = Copy(pid, name, files, stops);
            DataTarget? reading = null;
            try
            {
                reading = new DataTarget(snapshot, new DataTargetOptions());
                var runtime = OpenRuntime(reading, () => $"process {pid} ({name}) is not a .NET process (no .NET runtime is loaded in it)");
                if (runtime.Heap.CanWalkHeap)
                    return new Target(reading, runtime, pid, null, snapshot, clock, takenAt, stops);
                runtime.Dispose();
            }
            catch (Exception ex)
            {
                (reading as IDisposable ?? snapshot).Dispose();
                if (ex is CliException)
                    throw;
                throw snapshot.ReadsProcess && !IsRunning(pid) ? new CliException($"process {pid} exited while it was being read")
                    : new CliException($"cannot open the .NET runtime of process {pid} ({name}): {OneLine(ex)}");
            }
            reading.Dispose();
            if (stop == MaxStops)
                throw new CliException($"the heap of process {pid} cannot be walked right now (a garbage collection was in progress at each of {MaxStops} tries): try again");
            Thread.Sleep(10 << Math.Min(stop - 1, 5));
        }
    }

    // One stop: stop, copy, let go. The time from the first thread stopped to the last one let go is added to stops.
    private static ProcessSnapshot Copy(int pid, string name, FileIdentities files, List<TimeSpan> stops)
    {
        CopyBuffer buffer;
        try
        {
            // Sized while the process runs, with room for what it writes before it is stopped.
            var estimate = ProcessCopy.Plan(pid, files).Bytes;
            var size = estimate + estimate / 4 + (16 << 20);
            if (AvailableMemory() is { } available && size > available)
            {
                throw new CliException(FormattableString.Invariant($"process {pid} ({name}) has {estimate / 1e6:F0} MB of memory to copy and this machine has {available / 1e6:F0} MB free: ")
                    + $"write a core dump with 'asynclens dump-core {pid} -o FILE' and read it with --dump FILE");
            }
            buffer = CopyBuffer.Allocate(size);
        }
        catch (Exception ex) when (ex is ProcessGoneException or IOException or UnauthorizedAccessException)
        {
            throw Explain(pid, name, ex);
        }
        ProcessCopy.PrepareToStop();
        StoppedProcess process;
        try
        {
            process = Stop(pid, name);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
        TakenMemory taken;
        try
        {
            taken = ProcessCopy.Take(process, files, buffer);
        }
        catch (Exception ex) when (ex is ProcessGoneException or IOException or UnauthorizedAccessException)
        {
            process.Dispose();
            buffer.Dispose();
            throw ex is not ProcessGoneException && StillRunning(pid)
                ? new CliException($"cannot copy the memory of process {pid} ({name}): {OneLine(ex)}")
                : new CliException($"process {pid} exited while it was being read");
        }
        finally
        {
            process.Dispose(); // the process runs again
            stops.Add(process.StoppedFor);
        }
        return new ProcessSnapshot(pid, taken, buffer, files.Paths);
    }

    // MemAvailable from /proc/meminfo, in bytes; null when it cannot be read.
    private static ulong? AvailableMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                    && ulong.TryParse(line["MemAvailable:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var kilobytes))
                    return kilobytes * 1024;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    // Stops every thread (StoppedProcess), or says in one line why it cannot.
    private static StoppedProcess Stop(int pid, string name)
    {
        try
        {
            return StoppedProcess.Stop(pid);
        }
        catch (ThreadsKeptStartingException)
        {
            throw new CliException($"process {pid} ({name}) kept starting threads while asynclens stopped it: try again");
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException or ProcessGoneException)
        {
            throw Explain(pid, name, ex);
        }
    }

    /// <summary>Opens a core dump (<c>asynclens dump-core</c>, <c>dotnet-dump collect</c>, or the kernel's).</summary>
    public static Target Open(string dumpPath)
    {
        if (!File.Exists(dumpPath))
            throw new CliException($"no such dump file: {dumpPath}");
        var clock = Stopwatch.StartNew();
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
            return new Target(dataTarget, runtime, dataTarget.DataReader.ProcessId, dumpPath, null, clock, default, []);
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
    /// Fails when what was read cannot be trusted: bytes still asked of the process after its exit, or a dump
    /// that ends early (its heap could not be walked). Called after reading, before anything is printed.
    /// </summary>
    public void CheckStillReadable()
    {
        if (ProcessGone)
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
        ProcessGone ? new CliException($"process {ProcessId} exited while it was being read")
        : ex is CliException said ? said
        : ex is NoTaskTypeException ? new CliException(DumpPath is null
            ? $"process {ProcessId}'s runtime has no System.Threading.Tasks.Task type (not a .NET version asynclens reads)"
            : $"'{DumpPath}' holds no managed heap to read tasks from (a mini dump?): write one with 'asynclens dump-core PID -o FILE' (--type heap or full)")
        : DumpPath is null ? new CliException($"reading process {ProcessId} failed: {OneLine(ex)}")
        : new CliException($"'{DumpPath}' could not be read to the end (a truncated dump?): {OneLine(ex)}");

    // A live read that still asks the process for some bytes (see ProcessSnapshot.ReadsProcess) after it exited.
    private bool ProcessGone => _snapshot is { ReadsProcess: true } && !IsRunning(ProcessId);

    /// <summary>Lets go of what was read (the copy of a live process's memory; a dump). Commands call it as soon as they have read, before writing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Runtime.Dispose();
        _dataTarget.Dispose();
        _clock.Stop();
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
    // A process killed while asynclens had it stopped takes a moment to exit once let go (its state still says
    // stopped or running meanwhile): a failed read asks for up to 200 ms before calling the failure its own.
    private static bool StillRunning(int pid)
    {
        for (var i = 0; i < 20 && IsRunning(pid); i++)
            Thread.Sleep(10);
        return IsRunning(pid);
    }

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

/// <summary>
/// The cost of a read: how long a live process was stopped (summed over its stops: more than one when a stop fell
/// in a garbage collection) and how much of its memory was copied; how long the whole read took until now.
/// </summary>
internal readonly record struct ReadFigures(TimeSpan Paused, int Stops, ulong CopiedBytes, TimeSpan Elapsed, ulong UnreadableBytes = 0);
