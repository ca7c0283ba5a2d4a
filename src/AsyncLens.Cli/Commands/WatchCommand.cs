using System.CommandLine;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using AsyncLens.Cli.Profiling;
using AsyncLens.Cli.Remote;
using AsyncLens.Diagnosis;
using Microsoft.Diagnostics.NETCore.Client;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens watch &lt;pid&gt; [-o FILE] [--format text|json]</c>: stays attached to a running process through an
/// EventPipe session (<see cref="RuntimeSignals"/>: nothing stopped, nothing of AsyncLens in it) and, when the runtime
/// shows trouble, runs the doctor once per incident (<see cref="Incidents"/> decides when one begins and ends) and
/// writes the incident with its diagnosis (a signal the doctor finds nothing stuck behind is one line on standard error). Ctrl+C (or SIGTERM) ends it with exit code 0; the process's exit, with 2.
/// </summary>
internal static class WatchCommand
{
    public static Command Create()
    {
        var pid = new Argument<int>("pid") { Description = "The .NET process to watch" };
        var output = new Option<string?>("--output", "-o") { Description = "Append the incidents to this file instead of standard output", HelpName = "file" };
        var format = new Option<string>("--format") { Description = "Output format: text, json (one object a line)", DefaultValueFactory = _ => "text", HelpName = "text|json" };
        format.AcceptOnlyFromAmong("text", "json");
        var command = new Command("watch",
            "Stay attached to a running .NET process and, when the runtime shows trouble (thread-pool starvation, pool threads blocked for long, lock contention, work queued and none completing), say why with the doctor, once per incident. Ctrl+C ends it.")
        {
            pid, output, format,
        };
        command.SetAction(parse => Run(parse.GetValue(pid), parse.GetValue(output), parse.GetValue(format) == "json"));
        return command;
    }

    private static int Run(int pid, string? path, bool json)
    {
        if (pid <= 0)
            throw new CliException($"'{pid}' is not a process id");
        var name = Target.ProcessName(pid) ?? throw new CliException($"no process with id {pid}");
        if (pid == Environment.ProcessId)
            throw new CliException("asynclens cannot watch itself");
        if (path is not null)
            OutputFiles.CheckWritable(path, "incidents");
        var opened = new ConcurrentQueue<Incident>();
        using var wake = new ManualResetEventSlim();
        RuntimeSignals signals;
        try
        {
            signals = RuntimeSignals.Start(new DiagnosticsClient(pid), incident =>
            {
                opened.Enqueue(incident);
                wake.Set();
            });
        }
        catch (Exception ex) when (ex is not CliException and not OutOfMemoryException)
        {
            throw PidProfiler.Explain(pid, name, ex, "watch");
        }
        using var writer = path is null ? null : new StreamWriter(path, append: true);
        var into = writer ?? Console.Out;
        using (signals)
        using (var stop = new ManualResetEventSlim())
        using (PidProfiler.OnSignal(PosixSignal.SIGINT, stop))
        using (PidProfiler.OnSignal(PosixSignal.SIGTERM, stop))
        {
            Console.Error.WriteLine($"asynclens: watching process {pid} ({name}) until Ctrl+C: thread-pool starvation, blocked pool threads, lock contention, the pool's queue");
            var since = System.Diagnostics.Stopwatch.StartNew();
            while (!stop.IsSet && !signals.Ended)
            {
                WaitHandle.WaitAny([stop.WaitHandle, wake.WaitHandle], TimeSpan.FromMilliseconds(250));
                wake.Reset();
                if (stop.IsSet)
                    break;
                while (opened.TryDequeue(out var incident))
                    Diagnose(pid, signals, incident, into, json);
                if (signals.Tick(DateTimeOffset.UtcNow) is { } ended)
                {
                    if (json)
                        IncidentReport.WriteEndedJson(into, ended);
                    else
                        IncidentReport.WriteEndedText(into, ended);
                    into.Flush();
                }
            }
            if (!stop.IsSet)
            {
                throw new CliException(Target.IsRunning(pid)
                    ? $"the event stream of process {pid} ended ({signals.ReadFailure?.Message ?? "closed by the process"})"
                    : $"process {pid} exited");
            }
            var watched = since.Elapsed.TotalSeconds;
            // The session's end flushes what the process still held: read to the end, the counts are all it wrote.
            signals.Dispose();
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"asynclens: watched process {pid} for {watched:0.0} s: {signals.Events:N0} events read ({signals.Events / Math.Max(watched, 0.001):0.0} a second): ")
                + string.Join(", ", signals.EventsByName.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Count:N0} {e.Name}"))));
            return 0;
        }
    }

    // The doctor's one read for the incident just opened; the process is read once, then runs on. A signal the doctor
    // finds nothing stuck behind is a passing one: a line on standard error, not an incident.
    private static void Diagnose(int pid, RuntimeSignals signals, Incident incident, TextWriter into, bool json)
    {
        var diagnosis = DoctorCommand.Diagnose(pid);
        if (diagnosis.IsHealthy)
        {
            signals.Dismiss(incident, DateTimeOffset.UtcNow);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"asynclens: {incident.Started.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ} {incident.SignalName}: {incident.Detail}; the doctor found nothing stuck {(diagnosis.TakenAt - incident.Started).TotalSeconds:0.0} s later: not an incident"));
            return;
        }
        if (json)
            IncidentReport.WriteJson(into, incident, diagnosis);
        else
            IncidentReport.WriteText(into, incident, diagnosis);
        into.Flush();
    }
}
