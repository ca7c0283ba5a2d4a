using System.CommandLine;
using AsyncLens.Cli.Hosting;

namespace AsyncLens.Cli.Commands;

/// <summary><c>asynclens demo</c>: the bundled sample with the asyncio chapter's bugs, run under debug mode.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var options = new DebugOptions(dumpFormat: "tree");
        var command = new Command("demo", "Run the bundled sample (samples/ChapterBugs: the asyncio chapter's bugs, in C#) under debug mode and print its reports");
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var sample = Path.Combine(AppContext.BaseDirectory, "demo", "ChapterBugs.dll");
            if (!File.Exists(sample))
                throw new CliException($"the demo sample is missing ({sample}); rebuild with 'dotnet build src/AsyncLens.Cli'");
            Console.Error.WriteLine("asynclens demo: running samples/ChapterBugs under debug mode, as 'asynclens run -- dotnet ChapterBugs.dll' would.");
            Console.Error.WriteLine("Its own output goes to stdout; the reports (lines starting 'asynclens:') and the task dump of step 6 go to stderr.");
            Console.Error.WriteLine();
            return DebuggedProcess.Run([sample], options.Read(parse));
        });
        return command;
    }
}
