namespace AsyncLens.Cli.Agent;

/// <summary>
/// Reads a line at the console's prompt. On a terminal: up and down go through the lines typed before (history),
/// tab completes a command name (or lists the candidates), backspace erases, Ctrl+D on an empty line ends. From a pipe
/// or file: plain lines.
/// </summary>
internal sealed class LineEditor(IReadOnlyList<string> completions)
{
    private const int MaxHistory = 500;

    private readonly List<string> _history = [];

    public string? ReadLine(string prompt)
    {
        Console.Out.Write(prompt);
        Console.Out.Flush();
        if (Console.IsInputRedirected)
            return Console.In.ReadLine();
        var line = new System.Text.StringBuilder();
        var recalled = _history.Count;
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    Console.Out.Write("\n");
                    var text = line.ToString();
                    if (text.Trim().Length > 0 && (_history.Count == 0 || _history[^1] != text))
                    {
                        _history.Add(text);
                        if (_history.Count > MaxHistory)
                            _history.RemoveAt(0);
                    }
                    return text;
                case ConsoleKey.Backspace:
                    if (line.Length > 0)
                        line.Length--;
                    break;
                case ConsoleKey.UpArrow:
                    if (recalled > 0)
                        Replace(line, _history[--recalled]);
                    break;
                case ConsoleKey.DownArrow:
                    if (recalled < _history.Count)
                        Replace(line, ++recalled == _history.Count ? "" : _history[recalled]);
                    break;
                case ConsoleKey.Tab:
                    Complete(prompt, line);
                    break;
                case ConsoleKey.D when (key.Modifiers & ConsoleModifiers.Control) != 0:
                    if (line.Length == 0)
                    {
                        Console.Out.Write("\n");
                        return null;
                    }
                    break;
                default:
                    if (key.KeyChar >= ' ')
                        line.Append(key.KeyChar);
                    break;
            }
            Console.Out.Write("\r" + prompt + line + "\x1b[K");
            Console.Out.Flush();
        }
    }

    private static void Replace(System.Text.StringBuilder line, string text) => line.Clear().Append(text);

    // Only the first word is a command; its arguments are ids and text the agent knows.
    private void Complete(string prompt, System.Text.StringBuilder line)
    {
        var text = line.ToString();
        if (text.Contains(' '))
            return;
        var candidates = completions.Where(c => c.StartsWith(text, StringComparison.Ordinal)).ToList();
        if (candidates.Count == 1)
            Replace(line, candidates[0] + " ");
        else if (candidates.Count > 1)
            Console.Out.Write("\n" + string.Join("  ", candidates) + "\n" + prompt);
    }
}
