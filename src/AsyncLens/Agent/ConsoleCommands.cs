using System.Globalization;
using System.Reflection;
using System.Text.Json;
using AsyncLens.Inventory;

namespace AsyncLens.Agent;

/// <summary>
/// What the console answers: <c>hello</c> on connecting, then <c>help</c>, <c>ps</c>, <c>where</c>, <c>cancel</c>,
/// <c>ps-terminated</c>, <c>where-terminated</c>, <c>threads</c>, <c>pool</c>, <c>requests</c>. One
/// command runs at a time (clients queue here): a command's snapshot is the only pause it costs the app.
/// </summary>
internal sealed class ConsoleCommands(Func<TaskInventory> inventory, TerminatedHistory history)
{
    public static readonly string[] Names = ["help", "ps", "where", "cancel", "ps-terminated", "where-terminated", "threads", "pool", "requests"];

    private readonly Lock _gate = new();
    private readonly InFlightRequests _requests = InFlightRequests.Start();
    private readonly DateTimeOffset _since = DateTimeOffset.UtcNow;

    public static string Program => Assembly.GetEntryAssembly()?.GetName().Name ?? Path.GetFileName(Environment.ProcessPath) ?? "?";

    public byte[] Hello() => ConsoleProtocol.Line(w =>
    {
        w.WriteString("kind", "hello");
        w.WriteNumber("pid", Environment.ProcessId);
        w.WriteString("program", Program);
        w.WriteString("since", ConsoleProtocol.Timestamp(_since));
        w.WriteBoolean("debugMode", AsyncDebug.IsEnabled);
        w.WriteStartArray("commands");
        foreach (var name in Names)
            w.WriteStringValue(name);
        w.WriteEndArray();
    });

    public byte[] Run(JsonElement? id, string command, string[] args, bool withText = true)
    {
        ConsoleReply reply;
        try
        {
            lock (_gate)
                reply = Dispatch(command, new ConsoleArgs(command, args));
        }
        catch (ConsoleArgs.BadInput ex)
        {
            reply = ConsoleReply.BadInput(ex.Message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            reply = ConsoleReply.Failed($"{command} failed ({ex.GetType().Name}: {ex.Message}); the app is unaffected");
        }
        return ConsoleProtocol.Result(id, command, reply, withText);
    }

    private ConsoleReply Dispatch(string command, ConsoleArgs args) => command switch
    {
        "help" => Help(args),
        "ps" => TaskCommands.Ps(TaskSource.Of(inventory(), _requests), args),
        "where" => TaskCommands.Where(TaskSource.Of(inventory()), args),
        "cancel" => CancelCommand.Run(inventory(), args, history, _requests),
        "ps-terminated" => HistoryCommands.Ps(history, args),
        "where-terminated" => HistoryCommands.Where(history, args),
        "threads" => ThreadCommands.Threads(inventory(), args),
        "pool" => ThreadCommands.Pool(inventory(), args),
        "requests" => RequestCommands.Requests(inventory(), _requests, args),
        _ => ConsoleReply.BadInput($"unknown command '{command}': {string.Join(", ", Names)} (see 'help')"),
    };

    private static ConsoleReply Help(ConsoleArgs args)
    {
        args.End();
        const string text = """
            ps [--filter TEXT] [--sort KEY]          every pending async method: id, state, method, parked at, age, awaiting, awaited by (KEY: age, busy, method)
            where ID                                 its async stack, root first, with lines, and where each task in it was created
            cancel ID                                cancels the CancellationTokenSource whose token the task's chain holds, or aborts the request it serves
            ps-terminated [--filter TEXT]            the last async methods that ended: how (completed, faulted, cancelled), their last await
            where-terminated ID                      one of them: how it ended, its exception, its last async stack, where it was created
            threads                                  every thread: its state, the async step it runs, the task it is blocked on (debug mode)
            pool                                     the thread pool: workers busy and idle, queue, starvation, what the busy workers share
            requests                                 ASP.NET Core requests in flight: method, path, route, age, and the tasks under each
            help                                     this list

            """;
        return new ConsoleReply(text, w =>
        {
            w.WriteStartArray();
            foreach (var name in Names)
                w.WriteStringValue(name);
            w.WriteEndArray();
        });
    }
}

/// <summary>A command's arguments, read in order: options, then what is left; anything unknown is bad input.</summary>
internal sealed class ConsoleArgs(string command, string[] args)
{
    private readonly List<string> _left = [.. args];

    public string? Option(string name)
    {
        var at = _left.IndexOf(name);
        if (at < 0)
            return null;
        if (at + 1 >= _left.Count)
            throw new BadInput($"{command}: {name} needs a value");
        var value = _left[at + 1];
        _left.RemoveRange(at, 2);
        return value;
    }

    /// <summary>A task id as ps prints it: 17, or ~3 for work without a task id (-3 in JSON).</summary>
    public long TaskId()
    {
        var text = _left.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal))
            ?? throw new BadInput($"{command}: which task? give its id, as ps prints it ({command} 17)");
        _left.Remove(text);
        var digits = text.StartsWith('~') || text.StartsWith('-') ? text[1..] : text;
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
            throw new BadInput($"{command}: '{text}' is not a task id (a number, as ps prints it)");
        End();
        return text.StartsWith('~') || text.StartsWith('-') ? -id : id;
    }

    public void End()
    {
        if (_left.Count > 0)
            throw new BadInput($"{command}: unexpected '{_left[0]}' (see 'help')");
    }

    public sealed class BadInput(string message) : Exception(message);
}
