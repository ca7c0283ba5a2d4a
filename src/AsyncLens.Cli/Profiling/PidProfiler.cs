using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncLens.Cli.Remote;
using AsyncLens.Hosting;
using AsyncLens.Profiling;
using Microsoft.Diagnostics.NETCore.Client;

namespace AsyncLens.Cli.Profiling;

/// <summary>
/// <c>asynclens profile --pid PID</c>: profiles a running .NET process from outside, through an EventPipe session
/// (<see cref="ProfileSession"/>), until Ctrl+C or SIGTERM, the duration, or the process's exit; then writes the
/// profile. Whatever was collected is written in every case; a process that exits first gets one line and exit code 2.
/// </summary>
internal static class PidProfiler
{
    public static int Run(int pid, TimeSpan? duration, string durationText, string? path, AsyncProfileFormat format, ProfileScope scope)
    {
        var name = Target.ProcessName(pid) ?? throw new CliException($"no process with id {pid}");
        if (pid == Environment.ProcessId)
            throw new CliException("asynclens cannot profile itself");
        var client = new DiagnosticsClient(pid);
        ProfileSession session;
        try
        {
            session = ProfileSession.Start(client, scope);
        }
        catch (Exception ex) when (ex is not CliException and not OutOfMemoryException)
        {
            throw Explain(pid, name, ex, "profile");
        }
        using (session)
        using (var stop = new ManualResetEventSlim())
        using (OnSignal(PosixSignal.SIGINT, stop))
        using (OnSignal(PosixSignal.SIGTERM, stop))
        {
            Console.Error.WriteLine(duration is null
                ? $"asynclens: profiling process {pid} ({name}) until Ctrl+C or its exit"
                : $"asynclens: profiling process {pid} ({name}) for {durationText}");
            var deadline = duration is { } d ? DateTime.UtcNow + d : DateTime.MaxValue;
            // The reader ends by itself only when the stream does: the process exited (or its runtime closed the session).
            var ended = false;
            while (!stop.IsSet && !(ended = session.WaitForEnd(TimeSpan.Zero)) && DateTime.UtcNow < deadline)
                stop.Wait(Min(deadline - DateTime.UtcNow, TimeSpan.FromMilliseconds(100)));
            var profile = session.Stop();
            Write(profile, path, format);
            if (session.EventsLost > 0)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"asynclens: process {pid} dropped {session.EventsLost:N0} events (it raised them faster than asynclens read them): the figures above are short of them"));
            }
            if (session.Ambiguous.Count > 0)
            {
                var one = session.Ambiguous.Count == 1;
                Console.Error.WriteLine($"asynclens: {session.Ambiguous.Count} name{(one ? "" : "s")} of the events {(one ? "matches" : "match")} several methods of the process, "
                    + "listed as '... (ambiguous)': the events name a state machine by its type's short name only");
            }
            if (ended && !Target.IsRunning(pid))
            {
                throw new CliException(string.Create(CultureInfo.InvariantCulture,
                    $"process {pid} exited after {profile.Duration.TotalSeconds:0.0} s of profiling{(duration is null ? "" : $", before --duration {durationText} was up")}: the profile of what ran was written"));
            }
            if (ended || session.ReadFailure is not null)
                throw new CliException($"the event stream of process {pid} ended early ({session.ReadFailure?.Message ?? "closed by the process"}): the profile of what was read was written");
            return 0;
        }
    }

    private static void Write(AsyncProfile profile, string? path, AsyncProfileFormat format)
    {
        if (path is null)
        {
            profile.Write(Console.Error, format);
            return;
        }
        try
        {
            using (var writer = new StreamWriter(path, append: false))
                profile.Write(writer, format);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"the profile could not be written to '{path}': {ex.Message}");
        }
        Console.Error.WriteLine(ProfileHook.Written(profile, path));
    }

    // One line for what went wrong while connecting: the process is gone, is not .NET, or is not ours to trace.
    internal static CliException Explain(int pid, string name, Exception ex, string verb)
    {
        if (!Target.IsRunning(pid))
            return new CliException($"process {pid} exited before it could be {verb}d");
        if (ex is UnauthorizedAccessException || ex.InnerException is UnauthorizedAccessException
            || (ex as SocketException ?? ex.InnerException as SocketException) is { SocketErrorCode: SocketError.AccessDenied })
        {
            return new CliException($"no permission to connect to process {pid} ({name}): its diagnostics channel is its user's; run asynclens as that user or as root");
        }
        if (ex is ServerNotAvailableException)
        {
            return new CliException($"process {pid} ({name}) is not a .NET process, or its diagnostics channel is off (DOTNET_EnableDiagnostics=0) "
                + "or not visible to this user (another TMPDIR, another container)");
        }
        return new CliException($"cannot {verb} process {pid} ({name}): {ex.Message.ReplaceLineEndings(" ").Trim()}");
    }

    internal static IDisposable? OnSignal(PosixSignal signal, ManualResetEventSlim stop) =>
        OperatingSystem.IsWindows() && signal != PosixSignal.SIGINT ? null : PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            stop.Set();
        });

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? (a < TimeSpan.Zero ? TimeSpan.Zero : a) : b;
}
