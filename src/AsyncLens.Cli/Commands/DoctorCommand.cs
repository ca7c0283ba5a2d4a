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

    // Requests that look stuck are read again at least this long after the first read: still parked at the same await,
    // they wait for long; a library's I/O in flight (a reply completed through a TaskCompletionSource) is gone by then.
    private static readonly TimeSpan s_stuckWatch = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var options = new InspectOptions("text", "json");
        return options.Create("doctor",
            "Say why a running .NET process (or a core dump) is stuck: thread-pool starvation, sync-over-async, a deadlock, requests piled up at one await, a hot thread; or that it is healthy. Exit code 0 healthy, 1 a problem found.",
            (parse, target, symbols) =>
            {
                var (diagnosis, read, figures) = Diagnose(target, symbols);
                if (options.FormatOf(parse) == "json")
                    DoctorReport.WriteJson(Console.Out, diagnosis);
                else
                    DoctorReport.WriteText(Console.Out, diagnosis);
                Console.Out.Flush();
                options.WriteStats(parse, target, read.Reader, read.Graph, figures);
                return diagnosis.IsHealthy ? 0 : ProblemFound;
            });
    }

    /// <summary>One diagnosis of a running process, as <c>doctor PID</c> makes it (<c>watch</c> runs it once per incident).</summary>
    public static Diagnosis.Diagnosis Diagnose(int pid)
    {
        using var target = Target.Attach(pid);
        using var symbols = InspectOptions.SymbolsOf(target);
        return Diagnose(target, symbols).Diagnosis;
    }

    // The read (the process paused only while its memory is copied), each thread's processor use meanwhile, the judgement.
    private static (Diagnosis.Diagnosis Diagnosis, Reading Read, ReadFigures Figures) Diagnose(Target target, RemoteSymbols symbols)
    {
        var cpu = target.DumpPath is null ? ThreadCpuSampler.Start(target.ProcessId) : null;
        var read = Read(target, symbols);
        var figures = target.Figures;
        target.Dispose();
        var used = cpu?.Stop(s_cpuWatch);
        var diagnosis = Doctor.Diagnose(State(target, read, used));
        // A hot thread runs the same code across reads, and stuck requests are the same ones still parked a while later:
        // the process is read a second time, and judged on both (a hot thread caught in native code, named from a scan
        // of its stack that can miss the frame of a loop compiled again while it ran, is named from the second read).
        if (target.DumpPath is null && diagnosis.Verdicts.Any(v => v.Kind is VerdictKinds.HotThread or VerdictKinds.StuckRequests))
        {
            if (diagnosis.Verdicts.Any(v => v.Kind == VerdictKinds.StuckRequests) && target.TakenAt + s_stuckWatch - DateTimeOffset.UtcNow is { Ticks: > 0 } wait)
                Thread.Sleep(wait);
            diagnosis = Doctor.Diagnose(State(target, read, used, Reread(target.ProcessId)));
        }
        return (diagnosis, read, figures);
    }

    private sealed record Reading(TaskGraph Graph, HeapTasks Reader, ThreadRead Threads, long? Queued, IReadOnlyList<SemaphoreHold> Semaphores)
    {
        public DateTimeOffset TakenAt { get; init; }
    }

    private static Reading Read(Target target, RemoteSymbols symbols)
    {
        try
        {
            var (graph, reader) = InspectOptions.ReadTasks(target, symbols);
            var threads = ThreadStacks.Read(target.Runtime, symbols, reader);
            var queued = PoolQueue.Count(target.Runtime);
            var semaphores = SemaphoreHolds.Read(target.Runtime, graph, reader);
            target.CheckStillReadable();
            return new Reading(graph, reader, threads, queued, semaphores);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw target.Failed(ex);
        }
    }

    // A second read (null if the process can no longer be read).
    private static Reading? Reread(int pid)
    {
        try
        {
            using var target = Target.Attach(pid);
            using var symbols = new RemoteSymbols(target.Runtime);
            return Read(target, symbols) with { TakenAt = target.TakenAt };
        }
        catch (CliException)
        {
            return null;
        }
    }

    private static ProcessState State(Target target, Reading read, Dictionary<uint, ThreadCpu>? used, Reading? second = null)
    {
        var again = second?.Threads;
        var threads = read.Threads.Threads.Select(t =>
        {
            var frames = t.InNativeCode && again?.Threads.Find(a => a.OsId == t.OsId) is { InNativeCode: false } managed ? managed.Frames : t.Frames;
            var later = again?.Threads.Find(a => a.OsId == t.OsId);
            var second = later is { InNativeCode: false } ? Texts(later.Frames) : null;
            return new ObservedThread(t.ManagedId, t.OsId, t.ManagedId == 1, Texts(frames),
                t.AsyncStep, read.Reader.BlockedThreadNodes.GetValueOrDefault(t.ManagedId), used is not null && used.TryGetValue(t.OsId, out var c) ? c : null, t.Lock, second)
            {
                CompletedBetweenReads = t.CompletedWorkItems is { } before && later?.CompletedWorkItems is { } after ? (long)after - before : null,
            };
        }).ToList();
        return new ProcessState(target.ProcessId, target.TakenAt, read.Graph, threads, read.Queued, read.Semaphores)
        {
            Later = second is null ? null : new SecondRead(second.TakenAt, second.Graph),
        };
    }

    private static List<ThreadFrameText> Texts(IReadOnlyList<ThreadFrame> frames) => [.. ThreadStacks.ForPeople(frames).Select(f => new ThreadFrameText(f.Method, f.At, f.RuntimeName, f.App))];
}
