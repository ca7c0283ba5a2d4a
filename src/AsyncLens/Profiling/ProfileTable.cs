using System.Globalization;
using System.Text;

namespace AsyncLens.Profiling;

/// <summary>
/// The text form of a profile: a table of methods and the call graph, each fitted to a width (the terminal's, or
/// <see cref="DefaultWidth"/>): when a table is wider, its figure headers take two lines, then its name columns are
/// shortened (<see cref="Fit"/>).
/// </summary>
internal static class ProfileTable
{
    /// <summary>The width of a table written anywhere but a terminal (a file, a pipe).</summary>
    public const int DefaultWidth = 120;

    private const int MinimumName = 24;
    private const string Gap = "  ";

    private static readonly string[] s_columns = ["METHOD", "CALLS", "PENDING", "WALL s", "AVG ms", "SELF WALL s", "ON-THREAD s", "INCL ON-THREAD s", "AWAITING s", "AT"];
    private static readonly string[] s_edgeColumns = ["CALLER", "CALLEE", "CALLS", "WALL s", "ON-THREAD s"];

    public static void Write(TextWriter writer, AsyncProfile profile, int width)
    {
        writer.Write(Invariant($"asynclens profile: {profile.Duration.TotalSeconds:0.000} s, {profile.Methods.Count} async method{(profile.Methods.Count == 1 ? "" : "s")}")
            + (profile.FromAsyncEvents ? ", from .NET 11's async events" : "") + "\n");
        Wrap(writer, "wall: from its first await that waits to completion; on-thread: its own steps; awaiting: wall less incl. on-thread", width);
        Wrap(writer, "calls: those that waited (a call done without waiting raises no event); framework and package code: folded into yours", width);
        if (profile.Methods.Count > 0)
        {
            var rows = new List<string[]>();
            foreach (var m in profile.Methods)
            {
                var calls = m.Calls + m.Pending;
                rows.Add([
                    m.Method,
                    Invariant($"{m.Calls}"),
                    Invariant($"{m.Pending}"),
                    Seconds(m.Wall),
                    calls == 0 ? "-" : Invariant($"{m.Wall.TotalMilliseconds / calls:0.0}"),
                    Seconds(m.SelfWall),
                    Seconds(m.OnThread),
                    Seconds(m.InclusiveOnThread),
                    Seconds(m.Awaiting),
                    m.File is null ? "-" : Invariant($"{Path.GetFileName(m.File)}:{m.Line}"),
                ]);
            }
            writer.Write("\n");
            WriteRows(writer, s_columns, rows, names: [0, 9], firstFigure: 1, lastFigure: 8, width);
        }
        if (Outside(profile.Outside) is { } outside)
        {
            writer.Write("\n");
            Wrap(writer, outside, width);
        }
        if (profile.Calls.Count == 0)
            return;
        writer.Write("\nasync call graph (caller -> callee: what the callee took under that caller)\n\n");
        var edges = new List<string[]>();
        foreach (var c in profile.Calls)
            edges.Add([c.Caller, c.Callee, Invariant($"{c.Calls}"), Seconds(c.Wall), Seconds(c.OnThread)]);
        WriteRows(writer, s_edgeColumns, edges, names: [0, 1], firstFigure: 2, lastFigure: 4, width);
    }

    /// <summary>
    /// The width to fit a table written to <paramref name="writer"/>: <c>COLUMNS</c> when it is set (exported), else the
    /// terminal's when the writer is the console's and that is a terminal, else <see cref="DefaultWidth"/>.
    /// </summary>
    public static int WidthFor(TextWriter writer)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var columns) && columns > 0)
            return columns;
        var terminal = ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected
            || ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        if (!terminal)
            return DefaultWidth;
        try
        {
            return Console.WindowWidth is > 0 and var w ? w : DefaultWidth;
        }
        catch (Exception ex) when (ex is IOException or PlatformNotSupportedException or InvalidOperationException)
        {
            return DefaultWidth;
        }
    }

    // One line for the calls no row holds: folded code that no listed method awaited (a server's connection loops,
    // a library's timers) and, from outside, tasks that started before profiling (the events never named them).
    private static string? Outside(OutsideFigures outside)
    {
        var calls = outside.Calls + outside.Pending;
        if (calls == 0)
            return null;
        var text = Invariant($"not listed: {calls:N0} call{(calls == 1 ? "" : "s")} of framework or package code under none of your methods ({outside.Pending:N0} pending, {Seconds(TimeSpan.FromTicks(outside.OnThread))} s on-thread)");
        return outside.StartedBefore > 0 ? text + Invariant($"; {outside.StartedBefore:N0} of them started before profiling, unnamed") : text;
    }

    // Columns firstFigure..lastFigure (the figures) right-aligned, the others left-aligned; fitted to width.
    private static void WriteRows(TextWriter writer, string[] header, List<string[]> rows, int[] names, int firstFigure, int lastFigure, int width)
    {
        var top = new string?[header.Length];
        var bottom = (string[])header.Clone();
        var widths = Widths(rows, bottom, top);
        if (Total(widths) > width)
        {
            for (var c = firstFigure; c <= lastFigure; c++)
                (top[c], bottom[c]) = Split(header[c]);
            widths = Widths(rows, bottom, top);
        }
        // Name columns share what the figures leave, each at least MinimumName (or its own width, if narrower).
        for (var excess = Total(widths) - width; excess > 0; excess--)
        {
            var widest = names.MaxBy(c => widths[c]);
            if (widths[widest] <= MinimumName)
                break;
            widths[widest]--;
        }
        var line = new StringBuilder();
        if (top.Any(t => t is not null))
            WriteLine(writer, line, top.Select(t => t ?? "").ToArray(), widths, firstFigure, lastFigure);
        WriteLine(writer, line, bottom, widths, firstFigure, lastFigure);
        foreach (var row in rows)
            WriteLine(writer, line, row, widths, firstFigure, lastFigure);
    }

    private static void WriteLine(TextWriter writer, StringBuilder line, string[] cells, int[] widths, int firstFigure, int lastFigure)
    {
        line.Clear();
        for (var c = 0; c < cells.Length; c++)
        {
            var cell = Fit(cells[c], widths[c]);
            var right = c >= firstFigure && c <= lastFigure;
            line.Append(right ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]));
            if (c < cells.Length - 1)
                line.Append(Gap);
        }
        writer.Write(line.ToString().TrimEnd() + "\n");
    }

    private static int[] Widths(List<string[]> rows, string[] bottom, string?[] top)
    {
        var widths = new int[bottom.Length];
        for (var c = 0; c < widths.Length; c++)
            widths[c] = Math.Max(bottom[c].Length, top[c]?.Length ?? 0);
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        }
        return widths;
    }

    private static int Total(int[] widths) => widths.Sum() + Gap.Length * (widths.Length - 1);

    // "INCL ON-THREAD s" -> ("INCL", "ON-THREAD s"): the split that makes the narrowest pair.
    private static (string? Top, string Bottom) Split(string header)
    {
        (string? Top, string Bottom) best = (null, header);
        for (var i = header.IndexOf(' '); i > 0; i = header.IndexOf(' ', i + 1))
        {
            var candidate = (header[..i], header[(i + 1)..]);
            if (Math.Max(candidate.Item1.Length, candidate.Item2.Length) < Math.Max(best.Top?.Length ?? 0, best.Bottom.Length))
                best = candidate;
        }
        return best;
    }

    // A line of prose, broken between words to fit the width.
    private static void Wrap(TextWriter writer, string text, int width)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                writer.Write(line.Append('\n').ToString());
                line.Clear();
            }
            line.Append(line.Length > 0 ? " " : "").Append(word);
        }
        writer.Write(line.Append('\n').ToString());
    }

    // A name too long for its column is shortened where it says least: a lambda's " at File.cs:31" (the AT column says
    // it), then its parameter types, "Tracing.SendAsync(…)", inside Task.Run(...) too; what is still too long keeps
    // its end, "…Orders.PlaceAsync(…)".
    private static string Fit(string cell, int width)
    {
        if (cell.Length <= width)
            return cell;
        foreach (var wrapper in new[] { "Task.Run(", "Task.ContinueWith(" })
        {
            if (cell.StartsWith(wrapper, StringComparison.Ordinal) && cell.EndsWith(')') && width > wrapper.Length + 2)
                return wrapper + Fit(cell[wrapper.Length..^1], width - wrapper.Length - 1) + ")";
        }
        var at = cell.LastIndexOf(" lambda at ", StringComparison.Ordinal);
        if (at > 0)
            return Fit(cell[..(at + " lambda".Length)], width);
        var open = cell.EndsWith(')') ? cell.IndexOf('(', StringComparison.Ordinal) : -1;
        // Parameters once: a name still too long without them ("M(…)") is cut from the left, never shortened again.
        if (open > 0 && open < cell.Length - 2 && cell[(open + 1)..^1] != "…")
            return Fit(cell[..(open + 1)] + "…)", width);
        return "…" + cell[(cell.Length - width + 1)..];
    }

    private static string Seconds(TimeSpan time) => Invariant($"{time.TotalSeconds:0.000}");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
