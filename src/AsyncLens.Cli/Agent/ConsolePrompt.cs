using System.Globalization;
using System.Text.Json;
using AsyncLens.Cli.Commands;

namespace AsyncLens.Cli.Agent;

/// <summary>
/// <c>asynclens console PID</c>: a prompt that sends each line typed to the agent and prints its answer, until
/// <c>exit</c>, <c>quit</c> or end of input. Lines are read by <see cref="LineEditor"/> on a terminal (history, tab
/// completion of command names), as plain lines otherwise.
/// </summary>
internal static class ConsolePrompt
{
    public static int Run(int pid)
    {
        using var client = IConsoleSession.Open(pid);
        var prompt = $"asynclens {client.Program} {pid.ToString(CultureInfo.InvariantCulture)}> ";
        if (client is ConsoleClient agent)
            Console.Out.Write($"connected to {client.Program} (pid {pid.ToString(CultureInfo.InvariantCulture)}, console since {agent.Since}): 'help' lists the commands, 'exit' leaves\n");
        else if (client is OutsideConsole outside)
            Console.Out.Write($"{outside.Note}\n'help' lists the commands, 'exit' leaves\n");
        var commands = Commands(client);
        var editor = new LineEditor([.. commands, "exit", "quit"]);
        while (editor.ReadLine(prompt) is { } line)
        {
            var words = Split(line);
            if (words.Count == 0)
                continue;
            if (words[0] is "exit" or "quit")
                break;
            ConsoleCommand.Print(client.Send(words[0], words.Skip(1).ToList()), json: false);
        }
        return 0;
    }

    private static List<string> Commands(IConsoleSession client)
    {
        using var doc = JsonDocument.Parse(client.Send("help", []));
        return doc.RootElement.TryGetProperty("result", out var names) && names.ValueKind == JsonValueKind.Array
            ? names.EnumerateArray().Select(n => n.GetString() ?? "").ToList()
            : [];
    }

    /// <summary>Words split on spaces; "double quotes" keep spaces in one (ps --filter "GET /orders").</summary>
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (any)
                    words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else
            {
                word.Append(c);
                any = true;
            }
        }
        if (any)
            words.Add(word.ToString());
        return words;
    }
}
