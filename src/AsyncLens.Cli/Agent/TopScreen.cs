using System.Globalization;
using System.Text.Json;
using AsyncLens.Agent;
using AsyncLens.Diagnosis;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Symbols;

namespace AsyncLens.Cli.Agent;

/// <summary>What one frame of <c>asynclens top</c> shows: its lines, and which one is the selected task's (-1: none).</summary>
internal sealed record TopFrame(IReadOnlyList<string> Lines, int Highlight);

/// <summary>
/// The state of <c>asynclens top</c>'s list (sort key, filter, selected task, scroll) and its rendering to a frame
/// of a given size: the header line, the keys or a message, the table (as <c>ps</c>'s columns, cut to the width; or,
/// in the view of ended tasks, <c>ps-terminated</c>'s), and the warnings panel (tasks pending past the limit, hung
/// steps, the pool's starvation, requests past their limit).
/// </summary>
internal sealed class TopScreen(string program, int pid, bool debugMode, TimeSpan pendingLimit, TimeSpan requestLimit)
{
    public const string Keys = "q quit  s sort  / filter  up/down select  Enter where  c cancel  t ended";

    public const string EndedKeys = "q quit  t pending  / filter  up/down select  Enter where-terminated";

    private const int MinMethod = 16;
    private const int ReadableMethod = 32;
    private const int ReadableParkedAt = 16;
    private const int MaxHungShown = 3;
    private const int MinParkedAt = 10;

    private readonly string[] _sorts = debugMode ? ["age", "busy", "method"] : ["id", "method"];
    private readonly Cursor _pending = new();
    private readonly Cursor _ended = new();
    private int _sort;

    /// <summary>Where a view's selection is: the selected row's task id (kept across refreshes), its index, the first row shown.</summary>
    private sealed class Cursor
    {
        public long? Id;
        public int Index;
        public int Scroll;

        public int IndexIn(List<long> ids)
        {
            var at = Id is { } id ? ids.IndexOf(id) : -1;
            return at >= 0 ? at : Math.Clamp(Index, 0, Math.Max(0, ids.Count - 1));
        }
    }

    public TopSnapshot? Snapshot { get; set; }

    public string SortKey => _sorts[_sort];

    /// <summary>Rows shown are those whose method, or <c>File.cs:line</c> it is parked at, contain it (case ignored), as <c>ps --filter</c>.</summary>
    public string Filter { get; set; } = "";

    /// <summary>The view of the async methods that ended (<c>ps-terminated</c>, newest first) instead of the pending ones.</summary>
    public bool ShowEnded { get; set; }

    /// <summary>The selected task, kept by id across refreshes (a row moves when the sort says so).</summary>
    public TopTask? Selected => _pending.Id is { } id ? Snapshot?.Tasks.FirstOrDefault(t => t.Id == id) : null;

    /// <summary>The selected ended task, in the view of ended tasks.</summary>
    public TopEndedTask? SelectedEnded => _ended.Id is { } id ? Snapshot?.Ended?.Tasks.FirstOrDefault(t => t.Id == id) : null;

    public void NextSort() => _sort = (_sort + 1) % _sorts.Length;

    /// <summary>Moves the selection by <paramref name="rows"/> (up is negative), within the rows shown.</summary>
    public void Move(int rows)
    {
        var (cursor, ids) = ShowEnded ? (_ended, VisibleEnded().Select(t => t.Id).ToList()) : (_pending, Visible().Select(t => t.Id).ToList());
        if (ids.Count == 0)
            return;
        cursor.Index = Math.Clamp(cursor.IndexIn(ids) + rows, 0, ids.Count - 1);
        cursor.Id = ids[cursor.Index];
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

    /// <summary>The ended tasks shown: newest first, as <c>ps-terminated</c> sends them, filtered as the pending ones.</summary>
    public List<TopEndedTask> VisibleEnded() =>
        (Snapshot?.Ended?.Tasks ?? []).Where(t => Filter.Length == 0 || TaskCommands.Matches(t.Method, t.File, t.Line, Filter)).ToList();

    public string Header()
    {
        var header = $"{program} (pid {pid.ToString(CultureInfo.InvariantCulture)}): ";
        if (Snapshot is not { } snapshot)
            return header + "connecting";
        var time = snapshot.Time.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        if (ShowEnded)
        {
            return snapshot.Ended is { Error: null } ended
                ? header + $"{Doctor.Plural(ended.Tasks.Count, "ended async method")} (of {ended.Total.ToString(CultureInfo.InvariantCulture)}; the last {ended.Kept.ToString(CultureInfo.InvariantCulture)} kept), {time} UTC"
                : header + $"ended async methods, {time} UTC";
        }
        return header + $"{Doctor.Plural(snapshot.Tasks.Count, "pending task")}, {time} UTC, sort: {SortKey}";
    }

    /// <summary>The line under the header at a terminal: the keys, and the filter when there is one.</summary>
    public string Status()
    {
        var keys = ShowEnded ? EndedKeys : Keys;
        return Filter.Length > 0
            ? $"filter '{Filter}': {(ShowEnded ? VisibleEnded().Count : Visible().Count).ToString(CultureInfo.InvariantCulture)} shown, Esc clears it;  {keys}"
            : keys;
    }

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
        if ((Snapshot?.Error ?? (ShowEnded ? Snapshot?.Ended?.Error : null)) is { } error)
        {
            lines.Add(Cut("asynclens: " + error, width));
            return new TopFrame([.. lines, .. warnings], -1);
        }
        var (cursor, ids, table) = ShowEnded
            ? (_ended, VisibleEnded().Select(t => t.Id).ToList(), EndedTable(VisibleEnded(), width))
            : (_pending, Visible().Select(t => t.Id).ToList(), Table(Visible(), width));
        var room = height is { } h ? Math.Max(1, h - lines.Count - 1 - warnings.Count) : ids.Count;
        var highlight = -1;
        lines.Add(table[0]);
        if (ids.Count > 0)
        {
            cursor.Index = cursor.IndexIn(ids);
            cursor.Id = ids[cursor.Index];
            cursor.Scroll = Math.Clamp(cursor.Scroll, Math.Max(0, cursor.Index - room + 1), Math.Min(cursor.Index, Math.Max(0, ids.Count - room)));
            for (var i = cursor.Scroll; i < Math.Min(ids.Count, cursor.Scroll + room); i++)
            {
                if (i == cursor.Index)
                    highlight = lines.Count;
                lines.Add(table[i + 1]);
            }
        }
        else
        {
            cursor.Id = null;
            lines.Add(Filter.Length > 0 ? $"no task matches '{Filter}'" : ShowEnded ? "no ended async method yet" : "no pending task");
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
            // A request's handler with no await parked yet has no task: it is named with its first line.
            var what = step.TaskId is { } id ? $"task {TaskTable.Id(id)}" : "a request's handler, no await parked";
            items.Add($"hung step: {MethodNames.Compact(step.Method)} running {TaskTable.Age(TimeSpan.FromSeconds(step.Seconds))}{(step.ResumedAt is { } at ? $" since {(step.Handler ? "its start at " : "")}{at}" : "")} ({what}, {on})");
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
        return Fit(rows, width);
    }

    /// <summary>The header row and a row per ended task, as <c>ps-terminated</c>'s columns, cut to the width.</summary>
    private List<string> EndedTable(List<TopEndedTask> tasks, int width)
    {
        var now = Snapshot?.Time ?? DateTimeOffset.UtcNow;
        var rows = new List<string[]> { new[] { "ID", "HOW", "METHOD", "LAST PARKED AT", "LIVED", "ENDED" } };
        rows.AddRange(tasks.Select(t => new[]
        {
            TaskTable.Id(t.Id), t.How, MethodNames.Compact(t.Method),
            t.File is not null ? $"{Path.GetFileName(t.File)}:{t.Line.ToString(CultureInfo.InvariantCulture)}" : "-",
            t.LivedSeconds is { } lived ? TaskTable.Age(TimeSpan.FromSeconds(lived)) : "-",
            TaskTable.Age(now > t.Ended ? now - t.Ended : TimeSpan.Zero) + " ago",
        }));
        return Fit(rows, width);
    }

    /// <summary>Rows of cells (the method third, the file fourth) aligned in columns and cut to the width.</summary>
    private static List<string> Fit(List<string[]> rows, int width)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        }
        // Too wide for the terminal: the method gives way first down to a readable width, then the file (a framework's
        // long file name must not leave a method's name at 16 characters), then each down to its least; then the last
        // columns go (STEPS, BUSY, AGE; ENDED, LIVED), and what that frees goes back to the file, then the method. A line
        // still too wide is cut.
        var natural = widths.ToArray();
        var excess = widths.Sum() + 2 * (widths.Length - 1) - width;
        foreach (var (column, least) in new[] { (2, ReadableMethod), (3, ReadableParkedAt), (2, MinMethod), (3, MinParkedAt) })
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
        // A method's name collapses its parameters before it is cut (CutMethod): what the column does not use goes to the file.
        var usedMethod = rows.Skip(1).Select(r => CutMethod(r[2], widths[2]).Length).Append(rows[0][2].Length).Max();
        if (usedMethod < widths[2])
            (widths[3], widths[2]) = (Math.Min(natural[3], widths[3] + widths[2] - usedMethod), usedMethod);
        var cells = rows.Select((row, r) => row.Take(count).Select((cell, c) => r > 0 && c == 2 ? CutMethod(cell, widths[c]) : r > 0 && c == 3 ? CutHead(cell, widths[c]) : Cut(cell, widths[c])).ToArray()).ToList();
        return TaskTable.Align(cells).Split('\n')[..^1].Select(l => Cut(l, width)).ToList();
    }

    /// <summary>
    /// A method's name in <paramref name="width"/> characters: its type arguments and parameters collapsed first
    /// (<c>Shop.Fetch(…)</c>), then its head cut (<c>…Extensions.WaitForShutdownAsync(…)</c>): the method's own name is what a reader looks for.
    /// </summary>
    public static string CutMethod(string name, int width) => CutHead(MethodNames.Compact(name, width), width);

    /// <summary>At most <paramref name="width"/> characters, the end kept (a file's line number, a method's own name): a longer text starts with '…'.</summary>
    public static string CutHead(string text, int width) =>
        text.Length <= width ? text : width <= 1 ? text[^Math.Max(0, width)..] : "…" + text[^(width - 1)..];

    /// <summary>At most <paramref name="width"/> characters: a longer text ends in '…'.</summary>
    public static string Cut(string text, int width) =>
        text.Length <= width ? text : width <= 1 ? text[..Math.Max(0, width)] : text[..(width - 1)] + "…";
}
