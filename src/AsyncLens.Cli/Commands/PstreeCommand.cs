using System.CommandLine;

namespace AsyncLens.Cli.Commands;

/// <summary><c>asynclens pstree &lt;pid&gt;</c>: the await tree of a process read from outside (the engine's tree dump).</summary>
internal static class PstreeCommand
{
    public static Command Create() => InspectOptions.TaskDumpCommand("pstree", TaskDumpFormat.Tree,
        "Print the await tree of a running .NET process (or of a core dump): roots first, under each what it awaits, with the line each method is parked at; identical subtrees once with a count.");
}
