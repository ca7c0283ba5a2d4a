using System.CommandLine;

namespace AsyncLens.Cli.Commands;

/// <summary>The program a command runs (<c>run</c>, <c>profile</c>): everything after <c>--</c>.</summary>
internal static class ProgramArgument
{
    public static Argument<string[]> Create(ArgumentArity arity)
    {
        var program = new Argument<string[]>("program")
        {
            Description = "The program and its arguments: an app (./MyApp), its dll (MyApp.dll), or dotnet MyApp.dll. Put -- before it",
            Arity = arity,
        };
        // An option the command does not know lands here, as the program's name: say what it is instead.
        program.Validators.Add(r =>
        {
            if (r.Tokens is [{ Value: ['-', _, ..] first }, ..])
                r.AddError($"unknown option '{first}' (options come before --, the program and its arguments after it)");
        });
        return program;
    }
}
