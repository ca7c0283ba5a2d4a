using System.CommandLine;
using AsyncLens.Cli;
using AsyncLens.Cli.Commands;

var root = new RootCommand("asynclens: see what async .NET code is doing, and what it does wrong.")
{
    RunCommand.Create(),
    DemoCommand.Create(),
    PsCommand.Create(),
    PstreeCommand.Create(),
    StacksCommand.Create(),
    ThreadsCommand.Create(),
    DoctorCommand.Create(),
    WatchCommand.Create(),
    DumpCoreCommand.Create(),
    ProfileCommand.Create(),
    ConsoleCommand.Create(),
    TopCommand.Create(),
};
return Cli.Invoke(root, args);
