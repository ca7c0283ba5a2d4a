using System.CommandLine;
using AsyncLens.Cli.Hosting;

namespace AsyncLens.Cli.Commands;

/// <summary><c>asynclens run [--slow 250ms] [--format text|json] [--output FILE] [--console] -- &lt;program&gt; [args...]</c></summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var options = new DebugOptions();
        var program = ProgramArgument.Create(ArgumentArity.OneOrMore);
        var command = new Command("run", "Run a .NET program under async debug mode, with no change to it (the engine is injected as a startup hook). Exits with the program's exit code.");
        var console = new Option<bool>("--console")
        {
            Description = "Also start the live console in the program: then 'asynclens console <pid>' (its owner and root only)",
        };
        options.AddTo(command);
        command.Add(console);
        command.Add(program);
        command.SetAction(parse => DebuggedProcess.Run(parse.GetValue(program)!, options.Read(parse) with { Console = parse.GetValue(console) }));
        return command;
    }
}
