using System.Globalization;
using System.Text;
using System.Text.Json;
using AsyncLens.Agent;
using AsyncLens.Cli.Commands;
using AsyncLens.Cli.Remote;
using AsyncLens.Inventory;

namespace AsyncLens.Cli.Agent;

/// <summary>
/// The console of a process with no agent in it: the read-only commands (<c>ps</c>, <c>where</c>, <c>threads</c>) served
/// by the outside reader, one read of the process each (it is stopped while its memory is copied, as for
/// <c>asynclens ps PID</c>), answered in the agent's own protocol lines so that printing and the prompt are the same.
/// The rest need the agent, and say how to start it (exit 1).
/// </summary>
internal sealed class OutsideConsole(int pid) : IConsoleSession
{
    public static readonly string[] Names = ["help", "ps", "where", "threads"];

    private const string NoCreation = "where tasks were created, and when, is recorded by debug mode in the app, not readable from outside";

    public int Pid => pid;

    /// <summary>The program's name: its entry assembly (<c>dotnet Shop.dll</c> is Shop), else its executable's.</summary>
    public string Program { get; } = ProgramOf(pid);

    /// <summary>Said once, on standard error or by the prompt: what works without the agent, and how to start it.</summary>
    public string Note => $"process {pid.ToString(CultureInfo.InvariantCulture)} has no console agent: ps, where and threads are read from outside (the process stops while its memory is copied); cancel, ps-terminated, where-terminated, pool and requests need the agent: {StartIt}";

    public string Send(string command, IReadOnlyList<string> args, bool text = true)
    {
        ConsoleReply reply;
        try
        {
            var parsed = new ConsoleArgs(command, [.. args]);
            reply = command switch
            {
                "help" => Help(parsed),
                "ps" => TaskCommands.Ps(Source(), parsed),
                "where" => TaskCommands.Where(Source(), parsed),
                "threads" => Threads(parsed),
                "cancel" or "ps-terminated" or "where-terminated" or "pool" or "requests" =>
                    ConsoleReply.Failed($"{command} needs the console agent in process {pid.ToString(CultureInfo.InvariantCulture)}, which has none: {StartIt}"),
                _ => ConsoleReply.BadInput($"unknown command '{command}': {string.Join(", ", ConsoleCommands.Names)} (see 'help')"),
            };
        }
        catch (ConsoleArgs.BadInput ex)
        {
            reply = ConsoleReply.BadInput(ex.Message);
        }
        var line = ConsoleProtocol.Result(null, command, reply, text);
        return Encoding.UTF8.GetString(line, 0, line.Length - 1);
    }

    private string StartIt => ConsoleClient.NoConsole(pid) is var reason && reason.IndexOf(": ", StringComparison.Ordinal) is var colon and > 0 ? reason[(colon + 2)..] : reason;

    public void Dispose()
    {
    }

    private TaskSource Source() => new(pid, false, NoCreation, () =>
    {
        using var target = Target.Attach(pid);
        using var symbols = Symbols(target);
        var (graph, _) = InspectOptions.ReadTasks(target, symbols);
        return (graph, target.TakenAt);
    }, new PendingTasks(null, null));

    private ConsoleReply Threads(ConsoleArgs args)
    {
        args.End();
        ThreadRead threads;
        DateTimeOffset takenAt;
        using (var target = Target.Attach(pid))
        using (var symbols = Symbols(target))
        {
            try
            {
                var (_, reader) = InspectOptions.ReadTasks(target, symbols);
                threads = ThreadStacks.Read(target.Runtime, symbols, reader);
                target.CheckStillReadable();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not CliException)
            {
                throw target.Failed(ex);
            }
            takenAt = target.TakenAt;
        }
        var text = new StringWriter();
        ThreadsCommand.WriteText(text, pid, takenAt, threads);
        var json = new StringWriter();
        ThreadsCommand.WriteJson(json, pid, takenAt, threads);
        return new ConsoleReply(text.ToString(), w => w.WriteRawValue(json.ToString().TrimEnd('\n')));
    }

    private static RemoteSymbols Symbols(Target target)
    {
        try
        {
            return new RemoteSymbols(target.Runtime);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw target.Failed(ex);
        }
    }

    private static ConsoleReply Help(ConsoleArgs args)
    {
        args.End();
        const string text = """
            ps [--filter TEXT] [--sort method]   every pending async method: id, state, method, parked at, awaiting, awaited by
            where ID                             its async stack, root first, with lines
            threads                              every managed thread's stack, and the async method a thread runs a step of
            help                                 this list
            (no agent in this process: cancel, ps-terminated, where-terminated, pool and requests need it)

            """;
        return new ConsoleReply(text, w =>
        {
            w.WriteStartArray();
            foreach (var name in Names)
                w.WriteStringValue(name);
            w.WriteEndArray();
        });
    }

    private static string ProgramOf(int pid)
    {
        var words = Posix.CommandLine(pid)?.Split(' ') ?? [];
        var dll = words.FirstOrDefault(w => w.EndsWith(".dll", StringComparison.OrdinalIgnoreCase));
        return Path.GetFileNameWithoutExtension(dll ?? words.FirstOrDefault() ?? "?");
    }
}

/// <summary>A console to send commands to: the agent's (<see cref="ConsoleClient"/>), or the outside reader's (<see cref="OutsideConsole"/>).</summary>
internal interface IConsoleSession : IDisposable
{
    int Pid { get; }

    string Program { get; }

    /// <summary>Sends one command; the answer line (the agent's protocol), its text left out when <paramref name="text"/> is false.</summary>
    string Send(string command, IReadOnlyList<string> args, bool text = true);

    /// <summary>The agent's, or none: the process has no agent, and it is served from outside.</summary>
    public static IConsoleSession Open(int pid) => (IConsoleSession?)ConsoleClient.ConnectIfAny(pid) ?? new OutsideConsole(pid);
}
