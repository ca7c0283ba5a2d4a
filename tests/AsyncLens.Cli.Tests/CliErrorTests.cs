using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>Bad input: one clear line on stderr, exit code 2, never a stack trace.</summary>
public sealed class CliErrorTests
{
    public static TheoryData<string[], string> BadInput => new()
    {
        { ["run"], "asynclens: Required argument 'program' missing for command: 'run'. (see 'asynclens run --help')" },
        { ["run", "--slow", "fast", "--", "x.dll"], "asynclens: --slow 'fast' is not a duration (examples: 100ms, 0.5s, 2s) (see 'asynclens run --help')" },
        { ["run", "--slow", "-5ms", "--", "x.dll"], "asynclens: --slow '-5ms' is not a duration (examples: 100ms, 0.5s, 2s) (see 'asynclens run --help')" },
        { ["run", "--format", "xml", "--", "x.dll"], "asynclens: Argument 'xml' not recognized. Must be one of:\n\t'text'\n\t'json' (see 'asynclens run --help')" },
        { ["run", "--dump-format", "graph", "--", "x.dll"], "asynclens: Argument 'graph' not recognized. Must be one of:\n\t'tree'\n\t'stacks'\n\t'json' (see 'asynclens run --help')" },
        { ["run", "--", "/no/such/program"], "asynclens: cannot start '/no/such/program': No such file or directory" },
        { ["run", "--", "/no/such/app.dll"], "asynclens: cannot start '/no/such/app.dll': no such file" },
        { ["run", "--output", "/no/such/dir/reports.txt", "--", "x.dll"], "asynclens: cannot write reports to '/no/such/dir/reports.txt': directory '/no/such/dir' does not exist" },
        { ["run", "--bogus", "--", "x.dll"], "asynclens: unknown option '--bogus' (options come before --, the program and its arguments after it) (see 'asynclens run --help')" },
        { ["run", "--output", "/sys/kernel/notes", "--", "x.dll"], "asynclens: cannot write reports to '/sys/kernel/notes': Access to the path '/sys/kernel/notes' is denied." },
        { ["profile", "--bogus", "--", "x.dll"], "asynclens: unknown option '--bogus' (options come before --, the program and its arguments after it) (see 'asynclens profile --help')" },
        { ["ps", "4194000"], "asynclens: no process with id 4194000" },
        { ["pstree"], "asynclens: give a process id, or --dump FILE (see 'asynclens pstree --help')" },
        { ["ps", "abc"], "asynclens: 'abc' is not a process id (a number, as ps or dotnet-trace ps shows it) (see 'asynclens ps --help')" },
        { ["dump-core", "12x", "-o", "/tmp/x.core"], "asynclens: '12x' is not a process id (a number, as ps or dotnet-trace ps shows it) (see 'asynclens dump-core --help')" },
        { ["stacks", "1", "--dump", "x.core"], "asynclens: give a process id or --dump FILE, not both (see 'asynclens stacks --help')" },
        { ["threads", "--dump", "/no/such.core"], "asynclens: no such dump file: /no/such.core" },
        { ["ps", "1", "--format", "xml"], "asynclens: Argument 'xml' not recognized. Must be one of:\n\t'text'\n\t'json'\n\t'csv' (see 'asynclens ps --help')" },
        { ["dump-core", "4194000", "-o", "/tmp/x.core"], "asynclens: no process with id 4194000" },
        { ["dump-core", "1", "-o", "/no/such/dir/x.core"], "asynclens: cannot write '/no/such/dir/x.core': directory '/no/such/dir' does not exist" },
        { ["profile", "--duration", "soon", "--", "x.dll"], "asynclens: --duration 'soon' is not a duration (examples: 500ms, 10s, 2m) (see 'asynclens profile --help')" },
        { ["profile", "-o", "/no/such/dir/p.callgrind", "--", "x.dll"], "asynclens: cannot write the profile to '/no/such/dir/p.callgrind': directory '/no/such/dir' does not exist" },
        { ["profile", "--format", "pprof", "--", "x.dll"], "asynclens: Argument 'pprof' not recognized. Must be one of:\n\t'callgrind'\n\t'speedscope'\n\t'text' (see 'asynclens profile --help')" },
        { ["profile", "--", "/no/such/app.dll"], "asynclens: cannot start '/no/such/app.dll': no such file" },
        { ["profile", "--pid", "4194000"], "asynclens: no process with id 4194000" },
        { ["profile", "--pid", "1", "--", "x.dll"], "asynclens: give a program to run or --pid PID, not both (see 'asynclens profile --help')" },
        { ["profile"], "asynclens: give a program to run (after --) or --pid PID (see 'asynclens profile --help')" },
        { ["profile", "--pid", "12x"], "asynclens: '12x' is not a process id (a number, as ps or dotnet-trace ps shows it) (see 'asynclens profile --help')" },
        { ["profile", "--pid", "1", "-o", "/no/such/dir/p.txt"], "asynclens: cannot write the profile to '/no/such/dir/p.txt': directory '/no/such/dir' does not exist" },
        { ["frobnicate"], "asynclens: Unrecognized command or argument 'frobnicate'. (see 'asynclens --help')" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void Bad_input_gets_one_line_and_exit_code_2(string[] args, string message)
    {
        var result = ChildProcess.Dotnet([Repo.Cli, .. args], timed: false);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message + "\n", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Help_lists_the_run_options()
    {
        var result = ChildProcess.Dotnet([Repo.Cli, "run", "--help"], timed: false);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--slow <duration>", result.Stdout);
        Assert.Contains("--format <text|json>", result.Stdout);
        Assert.Contains("-o, --output <file>", result.Stdout);
        Assert.Contains("--dump-format <tree|stacks|json>", result.Stdout);
        Assert.Contains("<program>...", result.Stdout);
    }
}
