using System.CommandLine;
using AsyncLens.Cli.Remote;
using Microsoft.Diagnostics.NETCore.Client;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens dump-core &lt;pid&gt; -o FILE</c>: asks the process's runtime to write a core dump of itself,
/// through the diagnostics IPC channel (as <c>dotnet-dump collect</c> does); the other commands read it with <c>--dump</c>.
/// </summary>
internal static class DumpCoreCommand
{
    public static Command Create()
    {
        var pid = new Argument<int>("pid") { Description = "The .NET process to dump", CustomParser = r => InspectOptions.ParsePid(r) ?? 0 };
        var output = new Option<string>("--output", "-o")
        {
            Description = "The dump file to write",
            Required = true,
            HelpName = "file",
        };
        var type = new Option<string>("--type")
        {
            Description = "What the dump holds: heap (the managed heap and stacks: enough for every asynclens command), full (all memory), mini",
            DefaultValueFactory = _ => "heap",
            HelpName = "heap|full|mini",
        };
        type.AcceptOnlyFromAmong("heap", "full", "mini");
        var command = new Command("dump-core", "Write a core dump of a running .NET process (through the runtime's diagnostics channel, as dotnet-dump does), to read later with 'asynclens ps|pstree|stacks|threads --dump FILE'.")
        {
            pid, output, type,
        };
        command.SetAction(parse =>
        {
            var id = parse.GetValue(pid);
            var path = Path.GetFullPath(parse.GetValue(output)!);
            var dir = Path.GetDirectoryName(path);
            if (dir is null || !Directory.Exists(dir))
                throw new CliException($"cannot write '{path}': directory '{dir}' does not exist");
            if (!Target.IsRunning(id))
                throw new CliException($"no process with id {id}");
            var kind = parse.GetValue(type) switch
            {
                "full" => DumpType.Full,
                "mini" => DumpType.Normal,
                _ => DumpType.WithHeap,
            };
            try
            {
                new DiagnosticsClient(id).WriteDump(kind, path, logDumpGeneration: false);
            }
            catch (ServerNotAvailableException)
            {
                throw new CliException($"process {id} is not a .NET process, or its diagnostics channel is off (DOTNET_EnableDiagnostics=0) or not visible to this user");
            }
            catch (Exception ex) when (ex is DiagnosticsClientException or UnauthorizedAccessException or IOException or TimeoutException)
            {
                throw new CliException($"process {id} could not write a dump: {ex.Message.ReplaceLineEndings(" ").Trim()}");
            }
            Console.Out.WriteLine($"asynclens: wrote {path} ({new FileInfo(path).Length / (1024 * 1024)} MB)");
            return 0;
        });
        return command;
    }
}
