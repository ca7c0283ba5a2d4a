using System.CommandLine;
using AsyncLens.Cli.Remote;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Cli.Commands;

/// <summary>What <c>ps</c>, <c>pstree</c>, <c>stacks</c> and <c>threads</c> share: a process id or <c>--dump FILE</c>, a format, <c>--stats</c>.</summary>
internal sealed class InspectOptions
{
    private readonly string[] _formats;

    public InspectOptions(params string[] formats)
    {
        _formats = formats;
        Format = new Option<string>("--format")
        {
            Description = $"Output format: {string.Join(", ", formats)}",
            DefaultValueFactory = _ => formats[0],
            HelpName = string.Join('|', formats),
        };
        Format.AcceptOnlyFromAmong(formats);
    }

    public Argument<int?> Pid { get; } = new("pid")
    {
        Description = "The .NET process to read (it is paused only while its memory is read)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public Option<string?> Dump { get; } = new("--dump")
    {
        Description = "Read a core dump instead of a live process (asynclens dump-core, dotnet-dump collect)",
        HelpName = "file",
    };

    public Option<string> Format { get; }

    public Option<bool> Stats { get; } = new("--stats")
    {
        Description = "Print to standard error how much was read and how long the process was paused",
    };

    public Command Create(string name, string description, Func<ParseResult, Target, RemoteSymbols, int> action)
    {
        var command = new Command(name, description) { Pid, Dump, Format, Stats };
        command.Validators.Add(r =>
        {
            var pid = r.GetValue(Pid);
            var dump = r.GetValue(Dump);
            if (pid is null == dump is null)
                r.AddError(pid is null ? "give a process id, or --dump FILE" : "give a process id or --dump FILE, not both");
        });
        command.SetAction(parse =>
        {
            using var target = parse.GetValue(Dump) is { } dump ? Target.Open(dump) : Target.Attach(parse.GetValue(Pid)!.Value);
            using var symbols = new RemoteSymbols(target.Runtime);
            return action(parse, target, symbols);
        });
        return command;
    }

    /// <summary>
    /// A command that writes one of the engine's task dumps (the same text <c>kill -USR1</c> gives in a process
    /// running AsyncLens) of a process read from outside; <c>--format json</c> writes the JSON dump.
    /// </summary>
    public static Command TaskDumpCommand(string name, TaskDumpFormat shape, string description)
    {
        var options = new InspectOptions("text", "json");
        return options.Create(name, description, (parse, target, symbols) =>
        {
            var (graph, reader) = ReadTasks(target, symbols);
            var paused = target.Paused;
            target.Dispose();
            var format = options.FormatOf(parse) == "json" ? TaskDumpFormat.Json : shape;
            TaskInventory.Write(Console.Out, graph, new DumpHeader(target.ProcessId, DateTimeOffset.UtcNow), format, new PendingTasks(null, null));
            options.WriteStats(parse, target, reader, graph, paused);
            return 0;
        });
    }

    public string FormatOf(ParseResult parse) => parse.GetValue(Format) ?? _formats[0];

    /// <summary>Reads the pending tasks, then resumes the process (before anything is written).</summary>
    public static (TaskGraph Graph, HeapTasks Reader) ReadTasks(Target target, RemoteSymbols symbols)
    {
        try
        {
            var read = HeapTasks.Read(target.Runtime, symbols);
            target.CheckStillReadable();
            return read;
        }
        catch (Exception ex) when (ex is not CliException and not OutOfMemoryException)
        {
            throw target.Failed(ex);
        }
    }

    public void WriteStats(ParseResult parse, Target target, HeapTasks reader, TaskGraph graph, TimeSpan paused)
    {
        if (!parse.GetValue(Stats))
            return;
        var what = target.DumpPath is null ? $"process {target.ProcessId} paused {paused.TotalSeconds:0.000} s" : $"read from {target.DumpPath} in {paused.TotalSeconds:0.000} s";
        Console.Error.WriteLine(FormattableString.Invariant($"asynclens: {graph.Nodes.Count:N0} nodes from {reader.ObjectsWalked:N0} heap objects; {what}"));
    }
}
