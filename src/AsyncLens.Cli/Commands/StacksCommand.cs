using System.CommandLine;

namespace AsyncLens.Cli.Commands;

/// <summary><c>asynclens stacks &lt;pid&gt;</c>: one async stack per leaf of a process read from outside (the engine's stacks dump).</summary>
internal static class StacksCommand
{
    public static Command Create() => InspectOptions.TaskDumpCommand("stacks", TaskDumpFormat.Stacks,
        "Print one async stack per leaf of a running .NET process (or of a core dump), root to leaf, each frame 'Method at File.cs:line'; identical stacks once with a count.");
}
