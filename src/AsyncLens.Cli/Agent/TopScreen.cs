using System.Globalization;
using System.Text.Json;
using AsyncLens.Agent;
using AsyncLens.Diagnosis;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Symbols;

namespace AsyncLens.Cli.Agent;

/// <summary>One pending task as <c>asynclens top</c> shows it: the fields of <c>ps</c>'s JSON it has columns for.</summary>
internal sealed record TopTask(long Id, string State, string Method, string? File, int Line, double? AgeSeconds, double? BusySeconds, int? Steps);

/// <summary>
/// One refresh of <c>asynclens top</c>: what the agent's <c>ps</c> (with <c>--sort busy</c> in debug mode, for busy
/// time and steps) and <c>pool</c> answered. <see cref="Error"/>: why there is no table this time (the agent said so).
/// </summary>
internal sealed record TopSnapshot(DateTimeOffset Time, IReadOnlyList<TopTask> Tasks, bool HasBusy, string? Starvation, string? Error)
{
    /// <summary>The steps running past debug mode's hung-step threshold (from <c>threads</c>, in debug mode).</summary>
    public IReadOnlyList<TopStep> HungSteps { get; init; } = [];

    /// <summary>The ASP.NET Core requests in flight (from <c>requests</c>).</summary>
    public IReadOnlyList<TopRequest> Requests { get; init; } = [];

    public static TopSnapshot Take(IConsoleSession session, bool debugMode)
    {
        var ps = session.Send("ps", debugMode ? ["--sort", "busy"] : []);
        var pool = session.Send("pool", []);
        var threads = debugMode ? session.Send("threads", []) : null;
        var requests = session.Send("requests", []);
        return Parse(ps, pool) with { HungSteps = Hung(threads), Requests = InFlight(requests) };
    }

    /// <summary>From the agent's answer lines to <c>ps</c> and <c>pool</c> (docs/console.md, the protocol).</summary>
    public static TopSnapshot Parse(string psAnswer, string? poolAnswer)
    {
        using var ps = JsonDocument.Parse(psAnswer);
        var root = ps.RootElement;
        if (!root.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Object)
            return new TopSnapshot(DateTimeOffset.UtcNow, [], false, null, root.TryGetProperty("error", out var e) ? e.GetString() : "ps failed");
        var busy = new Dictionary<long, (double Seconds, int Steps)>();
        var hasBusy = result.TryGetProperty("busy", out var busyList);
        if (hasBusy)
        {
            foreach (var b in busyList.EnumerateArray())
                busy[b.GetProperty("id").GetInt64()] = (b.GetProperty("busySeconds").GetDouble(), b.GetProperty("steps").GetInt32());
        }
        var tasks = new List<TopTask>();
        foreach (var t in result.GetProperty("tasks").EnumerateArray())
        {
            var id = t.GetProperty("id").GetInt64();
            string? file = null;
            var line = 0;
            if (t.TryGetProperty("parkedAt", out var at) && at.ValueKind == JsonValueKind.Object)
            {
                file = at.GetProperty("file").GetString();
                line = at.GetProperty("line").GetInt32();
            }
            double? age = t.TryGetProperty("ageSeconds", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : null;
            var hasRecord = busy.TryGetValue(id, out var r);
            tasks.Add(new TopTask(id, t.GetProperty("state").GetString() ?? "?", t.GetProperty("method").GetString() ?? "?", file, line, age,
                hasRecord ? r.Seconds : null, hasRecord ? r.Steps : null));
        }
        var time = DateTimeOffset.Parse(result.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture);
        return new TopSnapshot(time, tasks, hasBusy, Starved(poolAnswer), null);
    }

    /// <summary>The threads whose step the agent calls hung (<c>threads</c>' <c>step.hung</c>), longest first.</summary>
    public static IReadOnlyList<TopStep> Hung(string? threadsAnswer)
    {
        if (Result(threadsAnswer) is not { } result || !result.RootElement.GetProperty("result").TryGetProperty("threads", out var threads))
            return [];
        using (result)
        {
            var hung = new List<TopStep>();
            foreach (var t in threads.EnumerateArray())
            {
                if (!t.TryGetProperty("step", out var step) || !step.GetProperty("hung").GetBoolean())
                    continue;
                var at = step.GetProperty("resumedAt");
                hung.Add(new TopStep(step.GetProperty("taskId").GetInt64(), step.GetProperty("method").GetString() ?? "?",
                    at.ValueKind == JsonValueKind.Object ? $"{Path.GetFileName(at.GetProperty("file").GetString())}:{at.GetProperty("line").GetInt32().ToString(CultureInfo.InvariantCulture)}" : null,
                    step.GetProperty("runningSeconds").GetDouble(), t.TryGetProperty("id", out var id) ? id.GetInt32() : null, t.GetProperty("osId").GetInt32()));
            }
            return [.. hung.OrderByDescending(h => h.Seconds).ThenBy(h => h.TaskId)];
        }
    }

    /// <summary>The requests in flight (<c>requests</c>' <c>requests</c>), oldest first.</summary>
    public static IReadOnlyList<TopRequest> InFlight(string? requestsAnswer)
    {
        if (Result(requestsAnswer) is not { } result || !result.RootElement.GetProperty("result").TryGetProperty("requests", out var requests))
            return [];
        using (result)
        {
            return [.. requests.EnumerateArray().Select(r => new TopRequest(
                    r.GetProperty("method").GetString() ?? "?", r.GetProperty("path").GetString() ?? "?",
                    r.TryGetProperty("route", out var route) ? route.GetString() : null, r.GetProperty("ageSeconds").GetDouble()))
                .OrderByDescending(r => r.AgeSeconds)];
        }
    }

    private static JsonDocument? Result(string? answer)
    {
        if (answer is null)
            return null;
        var doc = JsonDocument.Parse(answer);
        if (doc.RootElement.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object)
            return doc;
        doc.Dispose();
        return null;
    }

    /// <summary>The pool's own starvation line (<c>pool-starvation: 2 of 2 pool threads blocked; ...</c>) when it says it is starved.</summary>
    private static string? Starved(string? poolAnswer)
    {
        if (poolAnswer is null)
            return null;
        using var pool = JsonDocument.Parse(poolAnswer);
        var root = pool.RootElement;
        if (!root.TryGetProperty("result", out var result) || !result.TryGetProperty("starved", out var starved) || starved.ValueKind != JsonValueKind.True)
            return null;
        var text = root.GetProperty("text").GetString() ?? "";
        return text.Split('\n').FirstOrDefault(l => l.StartsWith(VerdictKinds.PoolStarvation + ":", StringComparison.Ordinal)) ?? VerdictKinds.PoolStarvation;
    }
}

/// <summary>A step running past debug mode's hung-step threshold: its task, method, the await it resumed from, on which thread.</summary>
internal sealed record TopStep(long TaskId, string Method, string? ResumedAt, double Seconds, int? ThreadId, int OsThreadId);

/// <summary>An ASP.NET Core request in flight.</summary>
internal sealed record TopRequest(string Method, string Path, string? Route, double AgeSeconds);

/// <summary>What one frame of <c>asynclens top</c> shows: its lines, and which one is the selected task's (-1: none).</summary>
internal sealed record TopFrame(IReadOnlyList<string> Lines, int Highlight);

/// <summary>
/// The state of <c>asynclens top</c>'s list (sort key, filter, selected task, scroll) and its rendering to a frame
/// of a given size: the header line, the keys or a message, the table (as <c>ps</c>'s columns, cut to the width),
/// and the warnings panel (tasks pending past the limit, hung steps, the pool's starvation, requests past their limit).
/// </summary>
internal sealed class TopScreen(string program, int pid, bool debugMode, TimeSpan pendingLimit, TimeSpan requestLimit)
{
    public const string Keys = "q quit  s sort  / filter  up/down select  Enter where  c cancel";

    private const int MinMethod = 16;
    private const int MaxHungShown = 3;
    private const int MinParkedAt = 10;

    private readonly string[] _sorts = debugMode ? ["age", "busy", "method"] : ["id", "method"];
    private int _sort;
    private int _index;
    private int _scroll;

    public TopSnapshot? Snapshot { get; set; }

    public string SortKey => _sorts[_sort];

    /// <summary>Rows shown are those whose method, or <c>File.cs:line</c> it is parked at, contain it (case ignored), as <c>ps --filter</c>.</summary>
    public string Filter { get; set; } = "";

    /// <summary>The selected task, kept by id across refreshes (a row moves when the sort says so).</summary>
    public TopTask? Selected { get; private set; }

    public void NextSort() => _sort = (_sort + 1) % _sorts.Length;

    /// <summary>Moves the selection by <paramref name="rows"/> (up is negative), within the rows shown.</summary>
    public void Move(int rows)
    {
        var visible = Visible();
        if (visible.Count == 0)
            return;
        _index = Math.Clamp(IndexOfSelected(visible) + rows, 0, visible.Count - 1);
        Selected = visible[_index];
    }

    /// <summary>The tasks shown: filtered, then sorted by the key (ties by id), as <c>ps --sort</c> does.</summary>
    public List<TopTask> Visible()
    {
        IEnumerable<TopTask> tasks = Snapshot?.Tasks ?? [];
        if (Filter.Length > 0)
            tasks = tasks.Where(t => TaskCommands.Matches(t.Method, t.File, t.Line, Filter));
        return (SortKey switch
        {
            "age" => tasks.OrderByDescending(t => t.AgeSeconds ?? double.MinValue).ThenBy(t => t.Id),
            "busy" => tasks.OrderByDescending(t => t.BusySeconds ?? -1).ThenBy(t => t.Id),
            "method" => tasks.OrderBy(t => t.Method, StringComparer.Ordinal).ThenBy(t => t.Id),
            _ => tasks.OrderBy(t => t.Id),
        }).ToList();
    }

    private int IndexOfSelected(List<TopTask> visible)
    {
        var at = Selected is { } s ? visible.FindIndex(t => t.Id == s.Id) : -1;
        return at >= 0 ? at : Math.Clamp(_index, 0, Math.Max(0, visible.Count - 1));
    }

    public string Header()
    {
        var header = $"{program} (pid {pid.ToString(CultureInfo.InvariantCulture)}): ";
        if (Snapshot is not { } snapshot)
            return header + "connecting";
        return header + $"{Doctor.Plural(snapshot.Tasks.Count, "pending task")}, {snapshot.Time.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} UTC, sort: {SortKey}";
    }

    /// <summary>The line under the header at a terminal: the keys, and the filter when there is one.</summary>
    public string Status() => Filter.Length > 0
        ? $"filter '{Filter}': {Visible().Count.ToString(CultureInfo.InvariantCulture)} shown, Esc clears it;  {Keys}"
        : Keys;

    /// <summary>
    /// A frame <paramref name="width"/> wide and at most <paramref name="height"/> lines (null: every row, for a
    /// frame printed to a file or a pipe); <paramref name="status"/> is the line under the header (null: none).
    /// </summary>
    public TopFrame Render(int width, int? height, string? status)
    {
        var lines = new List<string> { Cut(Header(), width) };
        if (status is not null)
            lines.Add(Cut(status, width));
        var warnings = Warnings().Select(w => Cut(w, width)).ToList();
        if (Snapshot?.Error is { } error)
        {
            lines.Add(Cut("asynclens: " + error, width));
            return new TopFrame([.. lines, .. warnings], -1);
        }
        var visible = Visible();
        var table = Table(visible, width);
        var room = height is { } h ? Math.Max(1, h - lines.Count - 1 - warnings.Count) : visible.Count;
        var highlight = -1;
        lines.Add(table[0]);
        if (visible.Count > 0)
        {
            _index = IndexOfSelected(visible);
            Selected = visible[_index];
            _scroll = Math.Clamp(_scroll, Math.Max(0, _index - room + 1), Math.Min(_index, Math.Max(0, visible.Count - room)));
            for (var i = _scroll; i < Math.Min(visible.Count, _scroll + room); i++)
            {
                if (i == _index)
                    highlight = lines.Count;
                lines.Add(table[i + 1]);
            }
        }
        else
        {
            Selected = null;
            lines.Add(Filter.Length > 0 ? $"no task matches '{Filter}'" : "no pending task");
        }
        if (height is { } max)
        {
            while (lines.Count + warnings.Count < max)
                lines.Add("");
        }
        return new TopFrame([.. lines, .. warnings], highlight);
    }

    /// <summary>The warnings panel: a title line, then one line per warning, of every task (the filter does not hide them).</summary>
    public List<string> Warnings()
    {
        var items = new List<string>();
        var limit = TaskTable.Age(pendingLimit);
        var tasks = Snapshot?.Tasks ?? [];
        if (!debugMode)
            items.Add($"pending past {limit}, hung steps: need debug mode (asynclens run --console)");
        else if (tasks.Where(t => t.AgeSeconds > pendingLimit.TotalSeconds).OrderByDescending(t => t.AgeSeconds).ThenBy(t => t.Id).ToList() is { Count: > 0 } late)
        {
            var oldest = late[0];
            items.Add($"{late.Count.ToString(CultureInfo.InvariantCulture)} pending past {limit}; oldest {TaskTable.Age(TimeSpan.FromSeconds(oldest.AgeSeconds!.Value))}: {TaskTable.Id(oldest.Id)} {MethodNames.Compact(oldest.Method)}");
        }
        var hung = Snapshot?.HungSteps ?? [];
        foreach (var step in hung.Take(MaxHungShown))
        {
            var on = step.ThreadId is { } managed ? $"thread {managed.ToString(CultureInfo.InvariantCulture)}" : $"OS thread {step.OsThreadId.ToString(CultureInfo.InvariantCulture)}";
            items.Add($"hung step: {MethodNames.Compact(step.Method)} running {TaskTable.Age(TimeSpan.FromSeconds(step.Seconds))}{(step.ResumedAt is { } at ? $" since {at}" : "")} (task {TaskTable.Id(step.TaskId)}, {on})");
        }
        if (hung.Count > MaxHungShown)
            items.Add($"hung steps: {(hung.Count - MaxHungShown).ToString(CultureInfo.InvariantCulture)} more (threads lists them)");
        if (Snapshot?.Starvation is { } starved)
            items.Add(starved);
        var requestsLimit = TaskTable.Age(requestLimit);
        if ((Snapshot?.Requests ?? []).Where(r => r.AgeSeconds > requestLimit.TotalSeconds).ToList() is { Count: > 0 } old)
        {
            var oldest = old[0];
            items.Add($"{Doctor.Plural(old.Count, "request")} past {requestsLimit}; oldest {TaskTable.Age(TimeSpan.FromSeconds(oldest.AgeSeconds))}: {oldest.Method} {oldest.Path}{(oldest.Route is { } route ? $" (route {route})" : "")}");
        }
        return items.Count == 0 ? [$"warnings: none (pending past {limit}, hung steps, pool starvation, requests past {requestsLimit})"] : ["warnings:", .. items.Select(i => "  " + i)];
    }

    /// <summary>The header row and a row per task, as <c>ps</c>'s columns (AGE in debug mode, BUSY and STEPS when sent), cut to the width.</summary>
    private List<string> Table(List<TopTask> tasks, int width)
    {
        var withAge = debugMode || tasks.Any(t => t.AgeSeconds is not null);
        var withBusy = Snapshot?.HasBusy == true;
        var rows = new List<string[]>();
        rows.Add([.. new[] { "ID", "STATE", "METHOD", "PARKED AT" }, .. withAge ? ["AGE"] : Array.Empty<string>(), .. withBusy ? ["BUSY", "STEPS"] : Array.Empty<string>()]);
        foreach (var t in tasks)
        {
            var row = new List<string>
            {
                TaskTable.Id(t.Id),
                t.State,
                MethodNames.Compact(t.Method),
                t.File is not null ? $"{Path.GetFileName(t.File)}:{t.Line.ToString(CultureInfo.InvariantCulture)}" : "-",
            };
            if (withAge)
                row.Add(t.AgeSeconds is { } age ? TaskTable.Age(TimeSpan.FromSeconds(age)) : "-");
            if (withBusy)
            {
                row.Add(t.BusySeconds is { } busy ? TaskCommands.Busy((long)(busy * TimeSpan.TicksPerSecond)) : "-");
                row.Add(t.Steps is { } steps ? steps.ToString(CultureInfo.InvariantCulture) : "-");
            }
            rows.Add([.. row]);
        }
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        }
        // Too wide for the terminal: the method gives way first, then the file; then the last columns go (STEPS,
        // BUSY, AGE), and what that frees goes back to the file, then the method. A line still too wide is cut.
        var natural = widths.ToArray();
        var excess = widths.Sum() + 2 * (widths.Length - 1) - width;
        foreach (var (column, least) in new[] { (2, MinMethod), (3, MinParkedAt) })
        {
            var give = Math.Clamp(excess, 0, Math.Max(0, widths[column] - least));
            widths[column] -= give;
            excess -= give;
        }
        var count = widths.Length;
        for (; excess > 0 && count > 4; count--)
            excess -= widths[count - 1] + 2;
        foreach (var column in new[] { 3, 2 })
        {
            var back = Math.Clamp(-excess, 0, natural[column] - widths[column]);
            widths[column] += back;
            excess += back;
        }
        var cells = rows.Select(row => row.Take(count).Select((cell, c) => Cut(cell, widths[c])).ToArray()).ToList();
        return TaskTable.Align(cells).Split('\n')[..^1].Select(l => Cut(l, width)).ToList();
    }

    /// <summary>At most <paramref name="width"/> characters: a longer text ends in '…'.</summary>
    public static string Cut(string text, int width) =>
        text.Length <= width ? text : width <= 1 ? text[..Math.Max(0, width)] : text[..(width - 1)] + "…";
}
