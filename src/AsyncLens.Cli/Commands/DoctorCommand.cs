using System.CommandLine;
using AsyncLens.Cli.Remote;
using AsyncLens.Diagnosis;
using AsyncLens.Inventory;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens doctor &lt;pid&gt;</c>: why a process is stuck, from one read from outside (the one <c>threads</c> and
/// <c>ps</c> make): the verdict first, then the evidence. Exit code 0 healthy, 1 a problem found, 2 bad input.
/// </summary>
internal static class DoctorCommand
{
    /// <summary>Exit code when a problem was found.</summary>
    public const int ProblemFound = 1;

    // Each thread's processor use is watched while the copy is read, for at least this long (a hot loop never waits in it).
    private static readonly TimeSpan s_cpuWatch = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var options = new InspectOptions("text", "json");
        return options.Create("doctor",
            "Say why a running .NET process (or a core dump) is stuck: thread-pool starvation, sync-over-async, a deadlock, requests piled up at one await, a hot thread; or that it is healthy. Exit code 0 healthy, 1 a problem found.",
            (parse, target, symbols) =>
            {
                var cpu = target.DumpPath is null ? ThreadCpuSampler.Start(target.ProcessId) : null;
                TaskGraph graph;
                HeapTasks reader;
                ThreadRead threads;
                long? queued;
                try
                {
                    (graph, reader) = InspectOptions.ReadTasks(target, symbols);
                    threads = ThreadStacks.Read(target.Runtime, symbols, reader);
                    queued = PoolQueue.Count(target.Runtime);
                    target.CheckStillReadable();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    throw target.Failed(ex);
                }
                var figures = target.Figures;
                target.Dispose();
                var used = cpu?.Stop(s_cpuWatch);
                var observed = threads.Threads.Select(t => new ObservedThread(t.ManagedId, t.OsId, t.ManagedId == 1,
                    [.. t.Frames.Select(f => new ThreadFrameText(f.Method, f.At, f.RuntimeName, f.App || f.At is not null))], t.AsyncStep,
                    reader.BlockedThreadNodes.GetValueOrDefault(t.ManagedId), used is not null && used.TryGetValue(t.OsId, out var c) ? c : null)).ToList();
                var diagnosis = Doctor.Diagnose(new ProcessState(target.ProcessId, target.TakenAt, graph, observed, queued));
                if (options.FormatOf(parse) == "json")
                    DoctorReport.WriteJson(Console.Out, diagnosis);
                else
                    DoctorReport.WriteText(Console.Out, diagnosis);
                Console.Out.Flush();
                options.WriteStats(parse, target, reader, graph, figures);
                return diagnosis.IsHealthy ? 0 : ProblemFound;
            });
    }
}
