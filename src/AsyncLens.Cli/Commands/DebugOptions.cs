using System.CommandLine;
using AsyncLens.Cli.Hosting;

namespace AsyncLens.Cli.Commands;

/// <summary>The debug-mode options shared by <c>run</c> and <c>demo</c>.</summary>
internal sealed class DebugOptions
{
    public Option<string> Slow { get; } = new("--slow")
    {
        Description = "Report a step that holds its thread this long (e.g. 250ms, 1s); hung after ten times it",
        DefaultValueFactory = _ => "100ms",
        HelpName = "duration",
    };

    public Option<string> Format { get; } = new("--format")
    {
        Description = "Report format: text (a block per report) or json (an object per line)",
        DefaultValueFactory = _ => "text",
        HelpName = "text|json",
    };

    public Option<string?> Output { get; } = new("--output", "-o")
    {
        Description = "Append reports to this file instead of standard error",
        HelpName = "file",
    };

    public Option<string> DumpFormat { get; }

    /// <param name="dumpFormat">What <c>kill -USR1</c> writes unless <c>--dump-format</c> says otherwise.</param>
    public DebugOptions(string dumpFormat = "stacks")
    {
        DumpFormat = new("--dump-format")
        {
            Description = "What kill -USR1 <pid> writes: every pending task as a tree, as async stacks (coalesced), or as json",
            DefaultValueFactory = _ => dumpFormat,
            HelpName = "tree|stacks|json",
        };
        DumpFormat.AcceptOnlyFromAmong("tree", "stacks", "json");
        Slow.Validators.Add(r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "100ms";
            if (!Durations.TryParse(text, out _))
                r.AddError($"--slow '{text}' is not a duration (examples: 100ms, 0.5s, 2s)");
        });
        Format.AcceptOnlyFromAmong("text", "json");
    }

    public void AddTo(Command command)
    {
        command.Add(Slow);
        command.Add(Format);
        command.Add(Output);
        command.Add(DumpFormat);
    }

    public DebugSettings Read(ParseResult parse)
    {
        Durations.TryParse(parse.GetValue(Slow) ?? "100ms", out var slow);
        var output = parse.GetValue(Output);
        if (output is not null)
            OutputFiles.CheckWritable(output, "reports");
        return new DebugSettings(slow, parse.GetValue(Format) ?? "text", output, parse.GetValue(DumpFormat) ?? "stacks");
    }
}
