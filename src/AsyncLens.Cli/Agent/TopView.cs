using System.Globalization;
using System.Text;
using System.Text.Json;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Symbols;

namespace AsyncLens.Cli.Agent;

/// <summary>
/// <c>asynclens top</c> at a terminal: the alternate screen, redrawn each second from the agent (and at each key),
/// plain ANSI escapes (cursor home, erase to end of line, reverse video for the selected row): what every terminal
/// and tmux over SSH understands. Keys: s sort, / filter, up/down select, Enter where, c cancel (after y), t the ended
/// tasks (ps-terminated; Enter there: where-terminated) and back, q quit.
/// </summary>
internal sealed class TopView(IConsoleSession session, TopScreen screen, bool debugMode)
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1);

    private enum Mode
    {
        List,
        Filter,
        Confirm,
        Where,
    }

    private Mode _mode = Mode.List;
    private string? _message;
    private List<string> _where = [];
    private int _whereScroll;
    private string _whereTitle = "";

    public int Run()
    {
        Console.TreatControlCAsInput = true;
        Write("\x1b[?1049h\x1b[?25l");
        try
        {
            Loop();
        }
        finally
        {
            Write("\x1b[?25h\x1b[?1049l");
            Console.TreatControlCAsInput = false;
        }
        return 0;
    }

    private void Loop()
    {
        var next = DateTime.UtcNow;
        var size = (0, 0);
        var dirty = true;
        while (true)
        {
            if (_mode != Mode.Where && DateTime.UtcNow >= next)
            {
                screen.Snapshot = TopSnapshot.Take(session, debugMode, screen.ShowEnded);
                next = DateTime.UtcNow + Refresh;
                dirty = true;
            }
            var now = (Width(), Height());
            if (dirty || now != size)
            {
                size = now;
                Paint(now.Item1, now.Item2);
                dirty = false;
            }
            if (!Console.KeyAvailable)
            {
                Thread.Sleep(25);
                continue;
            }
            var key = Console.ReadKey(intercept: true);
            dirty = true;
            if (!Handle(key))
                return;
            if (_mode == Mode.List && key.KeyChar is 'y' or 'Y' or 's' or 't')
                next = DateTime.UtcNow; // after a cancel, for a sort or the other view: the table as it is now
        }
    }

    /// <summary>One key; false when it quits.</summary>
    private bool Handle(ConsoleKeyInfo key)
    {
        var ctrlC = key.Key == ConsoleKey.C && (key.Modifiers & ConsoleModifiers.Control) != 0;
        if (ctrlC)
            return false;
        switch (_mode)
        {
            case Mode.Filter:
                if (key.Key == ConsoleKey.Enter)
                    _mode = Mode.List;
                else if (key.Key == ConsoleKey.Escape)
                {
                    screen.Filter = "";
                    _mode = Mode.List;
                }
                else if (key.Key == ConsoleKey.Backspace)
                    screen.Filter = screen.Filter.Length > 0 ? screen.Filter[..^1] : "";
                else if (key.KeyChar >= ' ')
                    screen.Filter += key.KeyChar;
                return true;
            case Mode.Confirm:
                _mode = Mode.List;
                _message = key.KeyChar is 'y' or 'Y' && screen.Selected is { } task ? Cancel(task) : "not cancelled";
                return true;
            case Mode.Where:
                if (key.KeyChar is 'q' or 'Q')
                    return false;
                if (key.Key is ConsoleKey.UpArrow or ConsoleKey.DownArrow or ConsoleKey.PageUp or ConsoleKey.PageDown)
                    _whereScroll = Math.Max(0, _whereScroll + Step(key.Key));
                else
                    _mode = Mode.List;
                return true;
        }
        _message = null;
        switch (key.Key)
        {
            case ConsoleKey.UpArrow or ConsoleKey.DownArrow or ConsoleKey.PageUp or ConsoleKey.PageDown:
                screen.Move(Step(key.Key));
                return true;
            case ConsoleKey.Home or ConsoleKey.End:
                screen.Move(key.Key == ConsoleKey.Home ? int.MinValue / 2 : int.MaxValue / 2);
                return true;
            case ConsoleKey.Enter:
                Where();
                return true;
            case ConsoleKey.Escape:
                screen.Filter = "";
                return true;
        }
        switch (key.KeyChar)
        {
            case 'q' or 'Q':
                return false;
            case 's' when !screen.ShowEnded:
                screen.NextSort();
                break;
            case 't':
                screen.ShowEnded = !screen.ShowEnded;
                break;
            case '/':
                _mode = Mode.Filter;
                break;
            case 'c' when !screen.ShowEnded && screen.Selected is { } task:
                _mode = Mode.Confirm;
                _message = $"cancel task {TaskTable.Id(task.Id)} ({MethodNames.Compact(task.Method)})? (y/n)";
                break;
        }
        return true;
    }

    private int Step(ConsoleKey key) => key switch
    {
        ConsoleKey.UpArrow => -1,
        ConsoleKey.DownArrow => 1,
        ConsoleKey.PageUp => -Math.Max(1, Height() - 8),
        _ => Math.Max(1, Height() - 8),
    };

    /// <summary>
    /// The agent's <c>where</c> of the selected task (<c>where-terminated</c> in the view of ended tasks), shown full
    /// screen until a key (a snapshot: not refreshed).
    /// </summary>
    private void Where()
    {
        var command = screen.ShowEnded ? "where-terminated" : "where";
        if ((screen.ShowEnded ? screen.SelectedEnded?.Id : screen.Selected?.Id) is not { } selected)
            return;
        var id = TaskTable.Id(selected);
        var (ok, text) = Answer(session.Send(command, [id]));
        if (!ok)
        {
            _message = text;
            return;
        }
        _where = text.TrimEnd('\n').Split('\n').ToList();
        _whereTitle = $"{command} {id}: any key back to the list, up/down scroll, q quit";
        _whereScroll = 0;
        _mode = Mode.Where;
    }

    private string Cancel(TopTask task)
    {
        var (_, text) = Answer(session.Send("cancel", [TaskTable.Id(task.Id)]));
        return text.TrimEnd('\n').Split('\n')[0];
    }

    /// <summary>An answer line's text when it worked, or its error as the CLI writes it.</summary>
    private static (bool Ok, string Text) Answer(string answer)
    {
        using var doc = JsonDocument.Parse(answer);
        var root = doc.RootElement;
        return root.TryGetProperty("exit", out var exit) && exit.GetInt32() == 0
            ? (true, root.GetProperty("text").GetString() ?? "")
            : (false, "asynclens: " + (root.TryGetProperty("error", out var error) ? error.GetString() : "the console failed"));
    }

    private void Paint(int width, int height)
    {
        TopFrame frame;
        if (_mode == Mode.Where)
        {
            var lines = Wrap(_where, width);
            _whereScroll = Math.Clamp(_whereScroll, 0, Math.Max(0, lines.Count - (height - 1)));
            frame = new TopFrame([TopScreen.Cut(_whereTitle, width), .. lines.Skip(_whereScroll).Take(height - 1)], -1);
        }
        else
        {
            var status = _mode == Mode.Filter ? $"filter: {screen.Filter}_  (Enter keeps it, Esc clears it)" : _message ?? screen.Status();
            frame = screen.Render(width, height, status);
        }
        var text = new StringBuilder("\x1b[H");
        for (var i = 0; i < Math.Min(height, frame.Lines.Count); i++)
        {
            if (i > 0)
                text.Append("\r\n");
            if (i == frame.Highlight)
                text.Append("\x1b[7m").Append(frame.Lines[i].PadRight(width)).Append("\x1b[0m");
            else
                text.Append(frame.Lines[i]).Append("\x1b[K");
        }
        text.Append("\x1b[J");
        Write(text.ToString());
    }

    /// <summary>Lines longer than the width go on under it, indented (a where line ends in a path and a line number worth reading).</summary>
    private static List<string> Wrap(List<string> lines, int width)
    {
        var wrapped = new List<string>();
        foreach (var line in lines)
        {
            var rest = line;
            var indent = "";
            while (indent.Length + rest.Length > width && width > 12)
            {
                // At a space or after a '/' when there is one in the second half: a path is read by its parts.
                var take = width - indent.Length;
                var at = rest.LastIndexOfAny([' ', '/'], take - 1);
                if (at >= take / 2)
                    take = at + 1;
                wrapped.Add(indent + rest[..take]);
                rest = rest[take..];
                indent = new string(' ', Math.Min(8, line.Length - line.TrimStart().Length + 4));
            }
            wrapped.Add(indent + rest);
        }
        return wrapped;
    }

    private static int Width() => Math.Max(20, Console.WindowWidth);

    private static int Height() => Math.Max(6, Console.WindowHeight);

    private static void Write(string text)
    {
        Console.Out.Write(text);
        Console.Out.Flush();
    }

    /// <summary>The width a frame printed to a file or a pipe has: $COLUMNS, else 80.</summary>
    public static int PrintedWidth() =>
        int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var columns) && columns >= 20 ? columns : 80;
}
