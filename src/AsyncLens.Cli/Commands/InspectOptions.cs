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
        CustomParser = ParsePid,
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
            // Presence, not values: a pid that does not parse already has its own error.
            var pid = r.GetResult(Pid) is { Tokens.Count: > 0 };
            var dump = r.GetResult(Dump) is not null;
            if (pid == dump)
                r.AddError(pid ? "give a process id or --dump FILE, not both" : "give a process id, or --dump FILE");
        });
        command.SetAction(parse =>
        {
            using var target = parse.GetValue(Dump) is { } dump ? Target.Open(dump) : Target.Attach(parse.GetValue(Pid)!.Value);
            using var symbols = SymbolsOf(target);
            return action(parse, target, symbols);
        });
        return command;
    }

    /// <summary>The names and lines of what the target runs; a failure to read them is the target's (one line, exit code 2).</summary>
    public static RemoteSymbols SymbolsOf(Target target)
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
            var figures = target.Figures;
            target.Dispose();
            var format = options.FormatOf(parse) == "json" ? TaskDumpFormat.Json : shape;
            TaskInventory.Write(Console.Out, graph, new DumpHeader(target.ProcessId, target.TakenAt), format, new PendingTasks(null, null));
            options.WriteStats(parse, target, reader, graph, figures);
            return 0;
        });
    }

    /// <summary>A process id argument's parser: "'abc' is not a process id" instead of a type conversion error.</summary>
    internal static int? ParsePid(System.CommandLine.Parsing.ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
            return null;
        var text = result.Tokens[0].Value;
        if (int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var pid))
            return pid;
        result.AddError($"'{text}' is not a process id (a number, as ps or dotnet-trace ps shows it)");
        return null;
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
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw target.Failed(ex);
        }
    }

    /// <summary>
    /// <c>--stats</c>: <c>asynclens: 6 nodes from 12,773 heap objects; process 6914 paused 0.041 s, 14.2 MB copied; read in 0.66 s</c>
    /// (<c>paused 0.083 s in 2 stops (a garbage collection was running)</c> when the first stop fell in one).
    /// </summary>
    public void WriteStats(ParseResult parse, Target target, HeapTasks reader, TaskGraph graph, ReadFigures figures)
    {
        if (!parse.GetValue(Stats))
            return;
        var stops = figures.Stops > 1 ? FormattableString.Invariant($" in {figures.Stops} stops (a garbage collection was running)") : "";
        var what = target.DumpPath is null
            ? FormattableString.Invariant($"process {target.ProcessId} paused {figures.Paused.TotalSeconds:0.000} s{stops}, {figures.CopiedBytes / 1e6:0.0} MB copied; read in {figures.Elapsed.TotalSeconds:0.00} s")
            : FormattableString.Invariant($"read from {target.DumpPath} in {figures.Elapsed.TotalSeconds:0.000} s");
        var untyped = reader.ObjectsUntyped > 0 ? FormattableString.Invariant($" ({reader.ObjectsUntyped:N0} of no known type)") : "";
        var unreadable = figures.UnreadableBytes > 0 ? FormattableString.Invariant($" ({figures.UnreadableBytes / 1e6:0.0} MB the kernel refused)") : "";
        Console.Error.WriteLine(FormattableString.Invariant($"asynclens: {graph.Nodes.Count:N0} nodes from {reader.ObjectsWalked:N0} heap objects{untyped}; {what}{unreadable}"));
    }
}
