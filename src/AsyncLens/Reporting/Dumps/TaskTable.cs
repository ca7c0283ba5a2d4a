using System.Globalization;
using System.Text;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// The <c>ps</c> table (<c>asynclens ps PID</c> from outside, the console's <c>ps</c> inside): aligned columns, a
/// parked-at line by file name (the JSON has the full path and the full method name), an AGE column when ages are
/// known (debug mode).
/// </summary>
internal static class TaskTable
{
    private static readonly string[] s_columns = ["ID", "STATE", "METHOD", "PARKED AT", "AWAITING", "AWAITED BY", "ROOT"];

    /// <summary>The table, after <paramref name="header"/>; <paramref name="extra"/> columns last (the console's BUSY, STEPS, REQUEST), "-" where a cell is null.</summary>
    public static void Write(TextWriter writer, string header, IReadOnlyList<PendingTask> tasks, IReadOnlyList<(string Title, Func<PendingTask, string?> Cell)>? extra = null)
    {
        writer.Write(header + "\n");
        if (tasks.Count == 0)
            return;
        var withAge = tasks.Any(t => t.Age is not null);
        string[] columns = withAge ? [.. s_columns[..4], "AGE", .. s_columns[4..]] : s_columns;
        if (extra is not null)
            columns = [.. columns, .. extra.Select(e => e.Title)];
        var rows = new List<string[]> { columns };
        foreach (var t in tasks)
        {
            var row = new List<string>
            {
                Id(t.Id),
                t.State,
                Symbols.MethodNames.Compact(t.Method) + (t.BlockedThreadWaits ? " (a thread is blocked waiting for it)" : ""),
                t.ParkedAt is { } at ? $"{Path.GetFileName(at.File)}:{at.Line.ToString(CultureInfo.InvariantCulture)}" : "-",
            };
            if (withAge)
                row.Add(t.Age is { } age ? Age(age) : "-");
            row.Add(List(t.Awaiting.Select(a => a.Kind == "awaited" ? a.Description : Id(a.Id)).ToList()));
            row.Add(List(t.AwaitedBy.Select(Id).ToList()));
            row.Add(t.IsRoot ? "yes" : "no");
            foreach (var (_, cell) in extra ?? [])
                row.Add(cell(t) ?? "-");
            rows.Add([.. row]);
        }
        writer.Write("\n");
        writer.Write(Align(rows));
    }

    /// <summary>Rows as aligned columns, two spaces apart, a line each (the first row is the header).</summary>
    public static string Align(IReadOnlyList<string[]> rows)
    {
        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        }
        var text = new StringBuilder();
        var line = new StringBuilder();
        foreach (var row in rows)
        {
            line.Clear();
            for (var c = 0; c < row.Length; c++)
            {
                line.Append(row[c]);
                if (c < row.Length - 1)
                    line.Append(' ', widths[c] - row[c].Length + 2);
            }
            text.Append(line.ToString().TrimEnd()).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Task ids as the runtime has them; work without one (a task whose Id nobody asked for, a pooled box) is ~N.</summary>
    public static string Id(long id) => id > 0 ? id.ToString(CultureInfo.InvariantCulture) : "~" + (-id).ToString(CultureInfo.InvariantCulture);

    /// <summary>"0.4 s", "12 s", "3 min", "2.5 h": as long as it reads at a glance.</summary>
    public static string Age(TimeSpan age) => age.TotalSeconds switch
    {
        < 10 => age.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s",
        < 120 => age.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s",
        < 7200 => age.TotalMinutes.ToString("0", CultureInfo.InvariantCulture) + " min",
        _ => age.TotalHours.ToString("0.0", CultureInfo.InvariantCulture) + " h",
    };

    // A Task.WhenAll of 1000 awaits 1000 ids: the table shows three and a count (the JSON and CSV have them all).
    private static string List(List<string> items) => items.Count switch
    {
        0 => "-",
        <= 3 => string.Join(", ", items),
        _ => string.Join(", ", items.Take(3)) + string.Create(CultureInfo.InvariantCulture, $" +{items.Count - 3} more"),
    };
}
