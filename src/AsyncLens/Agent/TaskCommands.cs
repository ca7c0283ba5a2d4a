using System.Globalization;
using System.Text;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;
using TaskRecord = AsyncLens.Tracking.TaskRecord;

namespace AsyncLens.Agent;

/// <summary>
/// Where <c>ps</c> and <c>where</c> read pending work: the agent's inventory, in the process; or, for the CLI when the
/// process has no agent, the outside reader (one read of the process per command). <see cref="NoCreation"/> says why
/// creation sites and ages are not known when <see cref="RecordsCreation"/> is false.
/// </summary>
internal sealed record TaskSource(int ProcessId, bool RecordsCreation, string NoCreation, Func<(TaskGraph Graph, DateTimeOffset TakenAt)> Read,
    PendingTasks Projection, Func<TaskGraph, Serving>? Served = null, Func<long, TaskRecord?>? Records = null)
{
    public static TaskSource Of(TaskInventory inventory, InFlightRequests? requests = null) =>
        new(Environment.ProcessId, inventory.RecordsCreation, TaskCommands.NeedsDebugMode, () => (inventory.Snapshot(), DateTimeOffset.UtcNow),
            inventory.Projection, requests is null ? null : graph => RequestCommands.Served(graph, requests),
            inventory.RecordsCreation ? inventory.Record : null);
}

/// <summary>The console's <c>ps</c> and <c>where</c>: a snapshot of pending work, as a table and as one task's stacks.</summary>
internal static class TaskCommands
{
    public const string NeedsDebugMode = "the app records creation sites and ages in debug mode only: start it with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)";

    public static ConsoleReply Ps(TaskSource source, ConsoleArgs args)
    {
        var filter = args.Option("--filter");
        var sort = args.Option("--sort");
        args.End();
        if (sort is not (null or "age" or "busy" or "method"))
            return ConsoleReply.BadInput($"ps: --sort '{sort}' is not age, busy or method");
        if (sort == "busy" && source.Records is null)
            return ConsoleReply.Failed("ps: --sort busy: the app records busy time per task in debug mode only: start it with ASYNCLENS_DEBUG=1 as well (asynclens run --console does both)");
        if (sort == "age" && !source.RecordsCreation)
            return ConsoleReply.Failed("ps: --sort age: " + source.NoCreation);
        var (graph, now) = source.Read();
        var header = new DumpHeader(source.ProcessId, now);
        IEnumerable<PendingTask> tasks = source.Projection.Project(graph, now.UtcTicks);
        if (filter is not null)
            tasks = tasks.Where(t => Matches(t, filter));
        var list = sort switch
        {
            "age" => tasks.OrderByDescending(t => t.Age ?? TimeSpan.MinValue).ThenBy(t => t.Id).ToList(),
            "method" => tasks.OrderBy(t => t.Method, StringComparer.Ordinal).ThenBy(t => t.Id).ToList(),
            "busy" => tasks.OrderByDescending(t => source.Records!(t.Id)?.BusyTicks ?? -1).ThenBy(t => t.Id).ToList(),
            _ => tasks.ToList(),
        };
        var line = header.Line(graph, graph.Roots.Count, "root");
        if (filter is not null)
            line += string.Create(CultureInfo.InvariantCulture, $"\n{list.Count} matching '{filter}'");
        var serving = source.Served?.Invoke(graph);
        var served = serving?.Tasks ?? [];
        var labels = new Dictionary<InFlight, string>();
        // The table only for a client that shows it (see ConsoleReply).
        string Table()
        {
            var text = new StringWriter();
            var extra = new List<(string, Func<PendingTask, string?>)>();
            if (sort == "busy" && source.Records is { } records)
            {
                // Busy: the time its steps held a thread (nested steps are their own); a method that never resumed has 0 steps.
                extra.Add(("BUSY", t => records(t.Id) is { } r && t.Kind == "async-method" ? Busy(r.BusyTicks) : null));
                extra.Add(("STEPS", t => records(t.Id) is { } r && t.Kind == "async-method" ? r.Steps.ToString(CultureInfo.InvariantCulture) : null));
            }
            if (served.Count > 0)
                extra.Add(("REQUEST", t => served.TryGetValue(t.Id, out var r) ? Label(r) : null));
            TaskTable.Write(text, line, list, extra.Count == 0 ? null : extra);
            return text.ToString();
        }
        return new ConsoleReply(Table, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("pid", header.ProcessId);
            w.WriteString("timestamp", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteStartArray("tasks");
            foreach (var t in list)
                JsonTaskDump.Task(w, t);
            w.WriteEndArray();
            if (sort == "busy" && source.Records is { } busy)
            {
                w.WriteStartArray("busy");
                foreach (var t in list)
                {
                    if (t.Kind != "async-method" || busy(t.Id) is not { } r)
                        continue;
                    w.WriteStartObject();
                    w.WriteNumber("id", t.Id);
                    w.WriteNumber("busySeconds", Math.Round(r.BusyTicks / (double)TimeSpan.TicksPerSecond, 4));
                    w.WriteNumber("steps", r.Steps);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            // Every request in flight, with the tasks that serve it (requests has their trees): asynclens top's warnings
            // read the requests' ages here, and need no second snapshot of the graph for them.
            w.WriteStartArray("requests");
            var byRequest = served.GroupBy(s => s.Value).ToDictionary(g => g.Key, g => g.Select(s => s.Key).Order().ToList());
            foreach (var request in serving?.InFlight ?? [])
            {
                if (request.Describe() is not { } what)
                    continue;
                w.WriteStartObject();
                RequestCommands.WriteRequest(w, request, what);
                w.WriteString("request", Label(request));
                w.WriteStartArray("tasks");
                foreach (var id in byRequest.GetValueOrDefault(request) ?? [])
                    w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });

        string Label(InFlight request)
        {
            if (!labels.TryGetValue(request, out var label))
                labels[request] = label = RequestCommands.Label(request);
            return label;
        }
    }

    /// <summary>"0.003 s": busy times are short, milliseconds count.</summary>
    public static string Busy(long ticks) => (ticks / (double)TimeSpan.TicksPerSecond).ToString("0.000", CultureInfo.InvariantCulture) + " s";

    /// <summary>The method as written, or the file:line it is parked at, contains the text (case ignored).</summary>
    private static bool Matches(PendingTask task, string filter) => Matches(task.Method, task.ParkedAt?.File, task.ParkedAt?.Line ?? 0, filter);

    /// <summary>The same, on a task as the JSON gives it (<c>asynclens top</c> filters what <c>ps</c> sent).</summary>
    public static bool Matches(string method, string? parkedFile, int parkedLine, string filter) =>
        method.Contains(filter, StringComparison.OrdinalIgnoreCase)
        || (parkedFile is not null && $"{Path.GetFileName(parkedFile)}:{parkedLine.ToString(CultureInfo.InvariantCulture)}".Contains(filter, StringComparison.OrdinalIgnoreCase));

    public static ConsoleReply Where(TaskSource source, ConsoleArgs args)
    {
        var id = args.TaskId();
        var (graph, takenAt) = source.Read();
        var now = takenAt.UtcTicks;
        if (Find(graph, id) is not { } node)
            return ConsoleReply.Failed($"where: no pending task {TaskTable.Id(id)} (it may have ended; ps lists the pending ones)");
        var subtrees = new Subtrees();
        var projection = source.Projection;
        var texts = new NodeTextCache();
        var task = projection.Of(node, now, texts);
        var stacks = StacksDump.Above(node, subtrees);
        // Below it, down the one chain it awaits, while it is one.
        var below = new List<StackFrame>();
        var leaf = node;
        var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance) { node };
        while (leaf.Awaits is [{ IsCode: true } child] && seen.Add(child))
        {
            below.Add(new StackFrame(subtrees.Text(child), child.AwaitedBy.Count));
            leaf = child;
        }
        var awaiting = StacksDump.Awaiting(leaf, subtrees);
        // Where it, and each task above it (its first awaiter's chain), was created: combinators are the framework's.
        var chain = new List<PendingTask> { task };
        for (var up = node; up.AwaitedBy.Count > 0 && seen.Add(up.AwaitedBy[0]); )
        {
            up = up.AwaitedBy[0];
            if (up.Kind != NodeKind.Combinator)
                chain.Add(projection.Of(up, now, texts));
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"task {TaskTable.Id(task.Id)}: {task.Method}, {task.State}");
        if (task.ParkedAt is { } at)
            text.Append(CultureInfo.InvariantCulture, $" at {at.File}:{at.Line}");
        text.Append('\n');
        foreach (var (frames, chains) in stacks)
        {
            text.Append(stacks.Count > 1 ? string.Create(CultureInfo.InvariantCulture, $"async stack (root first), x{chains}:\n") : "async stack (root first):\n");
            for (var i = 0; i < frames.Count; i++)
                text.Append("    ").Append(frames[i].ToString()).Append(i == frames.Count - 1 && below.Count > 0 ? "    <- task " + TaskTable.Id(task.Id) : "").Append('\n');
            foreach (var frame in below)
                text.Append("    ").Append(frame.ToString()).Append('\n');
            text.Append("    ").Append(awaiting).Append('\n');
        }
        if (!source.RecordsCreation)
            text.Append("created at: ").Append(source.NoCreation).Append('\n');
        else
        {
            text.Append("created (this task, then each awaiting it):\n");
            foreach (var t in chain)
            {
                text.Append(CultureInfo.InvariantCulture, $"    {TaskTable.Id(t.Id)} {t.Method}: ");
                text.Append(t.CreatedAt is { } c ? $"{c.File}:{c.Line.ToString(CultureInfo.InvariantCulture)}{(c.Method is null ? "" : " in " + c.Method)}" : "unknown");
                text.Append(t.Age is { } age ? $", {TaskTable.Age(age)} ago\n" : "\n");
            }
        }
        return new ConsoleReply(text.ToString(), w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("task");
            JsonTaskDump.Task(w, task);
            w.WriteStartArray("stacks");
            foreach (var (frames, chains) in stacks)
            {
                w.WriteStartObject();
                w.WriteNumber("count", chains);
                w.WriteStartArray("frames");
                foreach (var frame in frames.Concat(below))
                {
                    w.WriteStartObject();
                    w.WriteString("method", frame.Text.Title);
                    JsonTaskDump.Location(w, frame.Text.At);
                    if (frame.Text.Note is not null)
                        w.WriteString("note", frame.Text.Note);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("awaiting", awaiting);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("createdChain");
            foreach (var t in chain)
            {
                w.WriteStartObject();
                w.WriteNumber("id", t.Id);
                w.WriteString("method", t.Method);
                w.WritePropertyName("createdAt");
                JsonTaskDump.Location(w, t.CreatedAt, inline: false);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public static TaskNode? Find(TaskGraph graph, long id)
    {
        foreach (var node in graph.Nodes)
        {
            if (node.IsCode && node.Id == id)
                return node;
        }
        return null;
    }
}
