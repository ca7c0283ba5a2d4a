using System.CommandLine;

namespace AsyncLens.Cli;

/// <summary>Runs a command line: parse errors and <see cref="CliException"/> become one line on stderr and exit code 2.</summary>
internal static class Cli
{
    public const int UsageError = 2;
    public const int InternalError = 70;

    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var help = command == root ? "asynclens --help" : $"asynclens {command.Name} --help";
            // "Unrecognized command or argument 'x'" says more than the "required command missing" that comes with it.
            var error = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            Console.Error.WriteLine($"asynclens: {error.Message} (see '{help}')");
            return UsageError;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"asynclens: {ex.Message}");
            return ex.ExitCode;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"asynclens: internal error: {ex.GetType().Name}: {ex.Message}");
            return InternalError;
        }
    }
}

/// <summary>A user error: printed as one line, never as a stack trace.</summary>
internal sealed class CliException(string message, int exitCode = Cli.UsageError) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
