using System.Globalization;
using System.Text;
using System.Text.Json;
using AsyncLens.Diagnosis;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Agent;

/// <summary>The console's <c>threads</c> and <c>pool</c>: the process's threads and its thread pool, read from inside.</summary>
internal static class ThreadCommands
{
    public const string NoStacks = "stacks: code inside a .NET process cannot read another thread's stack; asynclens threads PID reads them all from outside (the app stops for tens of milliseconds)";

    /// <summary>Why a running pool worker may show no step: said once under the table, for a reader who wonders.</summary>
    public const string NothingSeen = "RUNS `-` on a running pool worker: no step, task or request debug mode saw begin there (a worker spins a moment for its next work item before it sleeps; or code no event brackets, e.g. a timer's or a socket's callback)";

    public const string NeedsDebugMode = "what each thread runs and the task it is blocked on are known in debug mode only: start the app with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)";

    public static ConsoleReply Threads(TaskInventory inventory, ConsoleArgs args)
    {
        args.End();
        var now = DateTimeOffset.UtcNow;
        var threads = LiveThreads.Read(inventory.Snapshot);
        var pool = threads.Count(t => t.IsPoolWorker);
        var blocked = threads.Count(t => t.Blocked is not null);
        // The table only for a client that shows it (see ConsoleReply).
        string Table()
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"asynclens: {Doctor.Plural(threads.Count, "thread")}, {pool} in the thread pool, {blocked} blocked on a task (pid {Environment.ProcessId}, {ConsoleProtocol.Timestamp(now)})\n\n");
            var rows = new List<string[]> { new[] { "OS ID", "ID", "NAME", "STATE", "RUNS" } };
            foreach (var t in threads)
            {
                rows.Add([
                    t.OsId.ToString(CultureInfo.InvariantCulture),
                    t.ManagedId is { } id ? id.ToString(CultureInfo.InvariantCulture) : "-",
                    t.IsMain ? t.Name + " (main)" : t.Name,
                    t.State,
                    t.Blocked is { } b ? $"{b.Sentence} (task {TaskTable.Id(b.TaskId)})" : t.Runs ?? "-",
                ]);
            }
            text.Append(TaskTable.Align(rows));
            text.Append('\n');
            if (!AsyncDebug.IsEnabled)
                text.Append(NeedsDebugMode).Append('\n');
            else if (threads.Any(t => t.IsPoolWorker && t.OnCpu && t.Runs is null && t.Blocked is null))
                text.Append(NothingSeen).Append('\n');
            text.Append(NoStacks).Append('\n');
            return text.ToString();
        }
        return new ConsoleReply(Table, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteString("timestamp", ConsoleProtocol.Timestamp(now));
            w.WriteBoolean("debugMode", AsyncDebug.IsEnabled);
            w.WriteStartArray("threads");
            foreach (var t in threads)
            {
                w.WriteStartObject();
                w.WriteNumber("osId", t.OsId);
                if (t.ManagedId is { } id)
                    w.WriteNumber("id", id);
                w.WriteString("name", t.Name);
                w.WriteString("state", t.State);
                w.WriteBoolean("main", t.IsMain);
                w.WriteBoolean("pool", t.IsPoolWorker);
                if (t.Runs is not null)
                    w.WriteString("runs", t.Runs);
                if (t.Step is { } step)
                {
                    w.WriteStartObject("step");
                    if (step.TaskId is { } taskId)
                        w.WriteNumber("taskId", taskId);
                    w.WriteString("method", step.Method);
                    w.WritePropertyName("resumedAt");
                    JsonTaskDump.Location(w, step.ResumedAt, inline: false);
                    if (step.Handler)
                    {
                        // No task, no step of its own: the request's handler from its first line (debug mode's reports say so of a first step).
                        w.WriteBoolean("firstStep", true);
                        w.WriteBoolean("handler", true);
                    }
                    w.WriteNumber("runningSeconds", Math.Round(step.Seconds, 3));
                    w.WriteBoolean("hung", step.Hung);
                    w.WriteEndObject();
                }
                if (t.Blocked is { } b)
                {
                    w.WritePropertyName("blocked");
                    WriteWait(w, b);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public static ConsoleReply Pool(TaskInventory inventory, ConsoleArgs args)
    {
        args.End();
        var now = DateTimeOffset.UtcNow;
        var workers = LiveThreads.Read(inventory.Snapshot).Where(t => t.IsPoolWorker).ToList();
        var figures = PoolFigures.Read(workers.Count(t => t.OnCpu));
        var (count, min, max, busy, running, queued, completed) = figures;
        var (waiting, starved) = (figures.Waiting, figures.Starved);
        var groups = workers.Where(t => t.Blocked is not null || t.Runs is not null)
            .GroupBy(t => t.Blocked?.Sentence ?? "running " + t.Runs)
            .Select(g => (Doing: g.Key, Threads: g.ToList())).OrderByDescending(g => g.Threads.Count).ThenBy(g => g.Doing, StringComparer.Ordinal).ToList();

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"asynclens: the thread pool (pid {Environment.ProcessId}, {ConsoleProtocol.Timestamp(now)})\n\n");
        text.Append(CultureInfo.InvariantCulture, $"workers: {count} (min {min}, max {max}): {busy} busy, {count - busy} idle; of the busy, {running} running on a processor, {waiting} waiting\n");
        text.Append(CultureInfo.InvariantCulture, $"queued: {Doctor.Plural(queued, "work item")}; completed: {Doctor.Count(completed)}\n");
        text.Append(CultureInfo.InvariantCulture, $"added above the minimum: {Math.Max(0, count - min)} (for starvation or for throughput: .NET's public API does not say which)\n");
        // Starved, and debug mode saw fewer blocked workers begin their wait than wait: listen for the waits that begin
        // meanwhile (the pool keeps adding workers that block alike, below its maximum), as the watchdog does when trouble begins.
        var seen = starved && count < max && groups.Sum(g => g.Threads.Count(t => t.Blocked is not null)) < waiting ? Listened() : [];
        text.Append(starved
            ? (seen.Count > 0 ? PoolWaits.Describe(figures, seen, PoolWaits.Window) : $"{VerdictKinds.PoolStarvation}: {waiting} of {count} pool threads blocked; {Doctor.Plural(queued, "work item")} queued") + "\n"
            : $"not starved (starved: at least {Doctor.StarvedMinimum} and {Doctor.StarvedShare:P0} of the workers blocked, with work queued)\n");
        if (groups.Count > 0 || seen.Count > 0)
        {
            text.Append("\nbusy workers, by what they do (most first):\n");
            foreach (var group in seen)
                text.Append(CultureInfo.InvariantCulture, $"  {Doctor.Plural(group.Threads.Count, "thread")} (os {string.Join(", ", group.Threads)}) {group.Sentence} (seen begin their wait in the {PoolWaits.Window.TotalSeconds:0} s listened)\n");
            if (seen.Any(g => !g.Placed))
                text.Append("  ").Append(PoolWaits.NoPlace(Environment.ProcessId)).Append('\n');
            foreach (var (doing, threads) in groups)
            {
                var ids = string.Join(", ", threads.Select(t => (t.ManagedId ?? 0).ToString(CultureInfo.InvariantCulture)));
                text.Append(CultureInfo.InvariantCulture, $"  {Doctor.Plural(threads.Count, "thread")} ({ids}) {doing}\n");
                if (threads[0].Blocked is { } sample)
                {
                    text.Append(CultureInfo.InvariantCulture, $"    stack of thread {threads[0].ManagedId} as its wait began (top first):\n");
                    foreach (var frame in sample.Frames.Take(12))
                        text.Append("      ").Append(frame.ToString()).Append('\n');
                }
            }
        }
        if (groups.Count == 0 && seen.Count == 0 && !AsyncDebug.IsEnabled && busy > 0)
            text.Append('\n').Append("what the busy workers do: ").Append(NeedsDebugMode).Append('\n');
        return new ConsoleReply(text.ToString(), w =>
        {
            w.WriteStartObject();
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteString("timestamp", ConsoleProtocol.Timestamp(now));
            w.WriteNumber("threads", count);
            w.WriteNumber("min", min);
            w.WriteNumber("max", max);
            w.WriteNumber("busy", busy);
            w.WriteNumber("idle", count - busy);
            w.WriteNumber("running", running);
            w.WriteNumber("waiting", waiting);
            w.WriteNumber("queued", queued);
            w.WriteNumber("completed", completed);
            w.WriteNumber("aboveMinimum", Math.Max(0, count - min));
            w.WriteBoolean("starved", starved);
            w.WriteStartArray("listened");
            foreach (var group in seen)
            {
                w.WriteStartObject();
                w.WriteString("doing", group.Sentence);
                w.WriteStartArray("osThreads");
                foreach (var t in group.Threads)
                    w.WriteNumberValue(t);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("groups");
            foreach (var (doing, threads) in groups)
            {
                w.WriteStartObject();
                w.WriteString("doing", doing);
                w.WriteStartArray("threads");
                foreach (var t in threads)
                    w.WriteNumberValue(t.ManagedId ?? 0);
                w.WriteEndArray();
                if (threads[0].Blocked is { } b)
                {
                    w.WritePropertyName("blocked");
                    WriteWait(w, b);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static List<PoolWaitGroup> Listened()
    {
        using var waits = PoolWaits.Listen();
        Thread.Sleep(PoolWaits.Window);
        return waits.Groups();
    }

    private static void WriteWait(Utf8JsonWriter w, LiveWait wait)
    {
        w.WriteStartObject();
        w.WriteNumber("taskId", wait.TaskId);
        if (wait.How is not null)
            w.WriteString("how", wait.How);
        if (wait.Waiter is { } waiter)
        {
            w.WriteString("method", waiter.Method);
            JsonTaskDump.Location(w, waiter.At);
        }
        w.WriteString("waitsFor", wait.WaitsFor);
        w.WriteStartArray("frames");
        foreach (var frame in wait.Frames)
        {
            w.WriteStartObject();
            w.WriteString("method", frame.Method);
            JsonTaskDump.Location(w, frame.At);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
