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
    private readonly Stopwatch _paused;

    private Target(DataTarget dataTarget, ClrRuntime runtime, int processId, string? dumpPath)
    {
        _dataTarget = dataTarget;
        Runtime = runtime;
        ProcessId = processId;
        DumpPath = dumpPath;
        _paused = Stopwatch.StartNew();
    }

    public ClrRuntime Runtime { get; }

    public int ProcessId { get; }

    /// <summary>The core dump read, or null for a live process.</summary>
    public string? DumpPath { get; }

    /// <summary>How long the process has been suspended (until <see cref="Dispose"/>); for a dump, how long reading took.</summary>
    public TimeSpan Paused => _paused.Elapsed;

    private bool _disposed;

    /// <summary>Suspends process <paramref name="pid"/> and opens its runtime.</summary>
    public static Target Attach(int pid)
    {
        var name = ProcessName(pid) ?? throw new CliException($"no process with id {pid}");
        if (pid == Environment.ProcessId)
            throw new CliException("asynclens cannot read itself");
        DataTarget dataTarget;
        try
        {
            dataTarget = DataTarget.AttachToProcess(pid, suspend: true);
        }
        catch (Exception ex) when (ex is not CliException)
        {
            throw Explain(pid, name, ex);
        }
        try
        {
            return new Target(dataTarget, OpenRuntime(dataTarget, () => $"process {pid} ({name}) is not a .NET process (no .NET runtime is loaded in it)"), pid, null);
        }
        catch
        {
            dataTarget.Dispose();
            throw;
        }
    }

    /// <summary>Opens a core dump (<c>asynclens dump-core</c>, <c>dotnet-dump collect</c>, or the kernel's).</summary>
    public static Target Open(string dumpPath)
    {
        if (!File.Exists(dumpPath))
            throw new CliException($"no such dump file: {dumpPath}");
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
            return new Target(dataTarget, runtime, dataTarget.DataReader.ProcessId, dumpPath);
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

    /// <summary>Turns a failure while reading into the one line that says what happened.</summary>
    public CliException Failed(Exception ex) =>
        DumpPath is null && !IsRunning(ProcessId) ? new CliException($"process {ProcessId} exited while it was being read")
        : DumpPath is null ? new CliException($"reading process {ProcessId} failed: {OneLine(ex)}")
        : new CliException($"'{DumpPath}' could not be read to the end (a truncated dump?): {OneLine(ex)}");

    /// <summary>Lets the process run again (detaches). Commands call it as soon as they have read, before writing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _paused.Stop();
        Runtime.Dispose();
        _dataTarget.Dispose();
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

    private static string? ProcessName(int pid)
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
    public static bool IsRunning(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("State:", StringComparison.Ordinal))
                        return !line.Contains('Z') && !line.Contains('X');
                }
                return false;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
        return ProcessName(pid) is not null;
    }

    private static string OneLine(Exception ex)
    {
        var message = ex.Message.ReplaceLineEndings(" ").Trim();
        return message.Length > 200 ? message[..200] + "..." : message;
    }
}
