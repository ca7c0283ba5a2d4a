using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AsyncLens.Agent;
using AsyncLens.Cli.Agent;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens console</c>: the processes with a console (pid, program, since); <c>asynclens console PID</c>: an
/// interactive prompt; <c>asynclens console PID COMMAND [ARGS]</c>: one command, for scripts (exit 0, 1 when it could
/// not be done, 2 for bad input). The agent in the process does the work (docs/console.md); this is its client.
/// </summary>
internal static class ConsoleCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format")
        {
            Description = "Output format: text, or json (the agent's answer line as it sent it; for the list, one object)",
            DefaultValueFactory = _ => "text",
            HelpName = "text|json",
        };
        format.AcceptOnlyFromAmong("text", "json");
        var words = new Argument<string[]>("pid-and-command")
        {
            Description = "A process id, then a console command and its arguments (ps, where ID, cancel ID, help); none: list the processes with a console",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("console",
            "The live console of a .NET process started with ASYNCLENS_CONSOLE=1 (or asynclens run --console, or AsyncDebug.StartConsole()): list, explain and cancel its pending async work. Only the process's user and root get in.")
        {
            format, words,
        };
        // A console command's own options (ps --filter X) belong to it, not to asynclens: taken as they come.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            var tokens = Words(parse, format);
            var json = parse.GetValue(format) == "json";
            if (tokens.Count == 0)
                return List(json);
            var pid = Pid(tokens[0]);
            if (tokens.Count == 1)
                return ConsolePrompt.Run(pid);
            using var session = IConsoleSession.Open(pid);
            var answer = session.Send(tokens[1], tokens.Skip(2).ToList());
            // Without an agent, a command that worked says once where its answer came from (one that did not says why).
            if (session is OutsideConsole outside && Answered(answer))
                Console.Error.WriteLine("asynclens: " + outside.Note);
            return Print(answer, json);
        });
        return command;
    }

    /// <summary>What followed <c>console</c>, in order, without <c>--format X</c>.</summary>
    private static List<string> Words(ParseResult parse, Option<string> format)
    {
        var tokens = parse.Tokens.Select(t => t.Value).ToList();
        var start = tokens.IndexOf("console");
        var words = new List<string>();
        for (var i = start + 1; i < tokens.Count; i++)
        {
            if (tokens[i] == format.Name)
                i++;
            else if (!tokens[i].StartsWith(format.Name + "=", StringComparison.Ordinal))
                words.Add(tokens[i]);
        }
        return words;
    }

    /// <summary>A process id as typed after <c>asynclens <paramref name="command"/></c>, or one line saying it is not one (exit 2).</summary>
    public static int Pid(string text, string command = "console") =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw new CliException($"'{text}' is not a process id (a number, as 'asynclens console' lists them) (see 'asynclens {command} --help')");

    private static bool Answered(string answer)
    {
        using var doc = JsonDocument.Parse(answer);
        return doc.RootElement.TryGetProperty("exit", out var exit) && exit.GetInt32() == 0;
    }

    /// <summary>Prints an answer line: its text (text), or the line itself (json); its exit code.</summary>
    public static int Print(string answer, bool json)
    {
        using var doc = JsonDocument.Parse(answer);
        var root = doc.RootElement;
        var exit = root.TryGetProperty("exit", out var e) ? e.GetInt32() : 1;
        if (json)
            Console.Out.Write(answer + "\n");
        else if (exit == 0)
            Console.Out.Write(root.GetProperty("text").GetString());
        if (exit != 0)
            Console.Error.WriteLine("asynclens: " + (root.TryGetProperty("error", out var error) ? error.GetString() : "the console failed"));
        Console.Out.Flush();
        return exit;
    }

    private static int List(bool json)
    {
        var uid = Posix.EffectiveUserId;
        var consoles = new List<ConsoleClient>();
        // Root may enter every user's directory; anyone else has their own.
        var dirs = uid == 0 ? Directory.GetDirectories("/tmp", "asynclens-*") : [ConsoleDirectory.Of(uid)];
        foreach (var dir in dirs)
        {
            if (!Directory.Exists(dir))
                continue;
            foreach (var path in Directory.GetFiles(dir, "*.sock"))
            {
                // A socket left by a process that was killed: nobody answers there.
                if (ConsoleClient.TryConnect(path, out _) is { } client)
                    consoles.Add(client);
            }
        }
        consoles.Sort((a, b) => a.Pid.CompareTo(b.Pid));
        try
        {
            if (json)
            {
                var line = ConsoleProtocol.Line(w =>
                {
                    w.WriteStartArray("consoles");
                    foreach (var c in consoles)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("pid", c.Pid);
                        w.WriteString("program", c.Program);
                        w.WriteString("since", c.Since);
                        w.WriteString("socket", c.SocketPath);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                });
                Console.Out.Write(System.Text.Encoding.UTF8.GetString(line));
            }
            else if (consoles.Count == 0)
                Console.Out.Write("no process with a console (start one with ASYNCLENS_CONSOLE=1 and the startup hook, or asynclens run --console -- app)\n");
            else
                Console.Out.Write(TaskTable.Align([["PID", "PROGRAM", "SINCE"], .. consoles.Select(c => new[] { c.Pid.ToString(CultureInfo.InvariantCulture), c.Program, c.Since })]));
            Console.Out.Flush();
            return 0;
        }
        finally
        {
            foreach (var c in consoles)
                c.Dispose();
        }
    }
}
