using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using AsyncLens.Cli.Hosting;
using AsyncLens.Cli.Profiling;
using AsyncLens.Profiling;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens profile [--duration 10s] [-o FILE] [--format callgrind|speedscope|text] [--include-framework] [--include-packages] -- &lt;program&gt; [args]</c>:
/// runs a program with the async profiler switched on through the startup hook, and has it write its profile
/// when it exits (or when the duration is up: then the program is sent SIGTERM).
/// <c>asynclens profile --pid PID [...]</c>: profiles a running process from outside, over EventPipe (<see cref="PidProfiler"/>).
/// </summary>
internal static class ProfileCommand
{
    public static Command Create()
    {
        var duration = new Option<string?>("--duration")
        {
            Description = "Profile this long (e.g. 10s, 500ms, 2m), then write the profile and stop the program (SIGTERM; with --pid the process runs on); without it, until the program exits (with --pid: until Ctrl+C or its exit)",
            HelpName = "duration",
        };
        duration.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !Durations.TryParse(r.Tokens[0].Value, out _))
                r.AddError($"--duration '{r.Tokens[0].Value}' is not a duration (examples: 500ms, 10s, 2m)");
        });
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Write the profile to this file (without it: the table, on standard error)",
            HelpName = "file",
        };
        var format = new Option<string?>("--format")
        {
            Description = "callgrind (callgrind_annotate, KCachegrind), speedscope (JSON for speedscope.app) or text; default: from the file's extension (.json speedscope, .txt text, else callgrind), text without -o",
            HelpName = "callgrind|speedscope|text",
        };
        format.AcceptOnlyFromAmong("callgrind", "speedscope", "text");
        var framework = new Option<bool>("--include-framework")
        {
            Description = "List the framework's async methods (System.*, Microsoft.*, ASP.NET Core) instead of folding them into the user method that awaited them",
        };
        var packages = new Option<bool>("--include-packages")
        {
            Description = "List the async methods of NuGet packages (Npgsql, Dapper, ...: the app's deps.json says which) instead of folding them into the user method that awaited them",
        };
        var pid = new Option<int?>("--pid")
        {
            Description = "Profile this running .NET process instead, from outside (EventPipe: nothing to install in it, no restart), until Ctrl+C, --duration or its exit",
            HelpName = "pid",
            CustomParser = InspectOptions.ParsePid,
        };
        var program = ProgramArgument.Create(ArgumentArity.ZeroOrMore);
        var command = new Command("profile",
            "Profile the async methods of a .NET program, with no change to it: per method, calls, wall time (start to completion), on-thread time, awaiting time, and who awaited whom. Writes callgrind, speedscope or a table. "
            + "Runs the program, or profiles a running process with --pid.")
        {
            duration, output, format, framework, packages, pid, program,
        };
        command.Validators.Add(r =>
        {
            var attach = r.GetResult(pid) is not null;
            var run = r.GetResult(program) is { Tokens.Count: > 0 };
            if (attach == run)
                r.AddError(attach ? "give a program to run or --pid PID, not both" : "give a program to run (after --) or --pid PID");
        });
        command.SetAction(parse =>
        {
            TimeSpan? limit = parse.GetValue(duration) is { } text && Durations.TryParse(text, out var d) ? d : null;
            var path = parse.GetValue(output) is { } o ? Path.GetFullPath(o) : null;
            var shape = parse.GetValue(format) ?? FormatFor(path);
            if (path is not null)
                OutputFiles.CheckWritable(path, "the profile");
            if (parse.GetValue(pid) is { } id)
                return PidProfiler.Run(id, limit, parse.GetValue(duration) ?? "", path, Enum.Parse<AsyncProfileFormat>(shape, ignoreCase: true),
                    new ProfileScope(parse.GetValue(framework), parse.GetValue(packages)));
            var env = new Dictionary<string, string?>
            {
                ["ASYNCLENS_PROFILE"] = "1",
                ["ASYNCLENS_PROFILE_OUTPUT"] = path,
                ["ASYNCLENS_PROFILE_FORMAT"] = shape,
                ["ASYNCLENS_PROFILE_DURATION_MS"] = limit is { } l ? Durations.Format(l) : null,
                ["ASYNCLENS_PROFILE_FRAMEWORK"] = parse.GetValue(framework) ? "1" : null,
                ["ASYNCLENS_PROFILE_PACKAGES"] = parse.GetValue(packages) ? "1" : null,
            };
            var startedAt = DateTime.UtcNow;
            var ran = DebuggedProcess.Run(parse.GetValue(program)!, env, limit is { } wait ? wait + TimeSpan.FromSeconds(1) : null);
            if (path is not null && (!File.Exists(path) || File.GetLastWriteTimeUtc(path) < startedAt))
                throw new CliException($"no profile was written to '{path}': the program ended without running its exit handlers (exit code {ran.ExitCode}: killed, or crashed in native code)");
            if (ran.Signal is PosixSignal.SIGINT or PosixSignal.SIGTERM)
            {
                // The program wrote what it collected when the signal reached it (Ctrl+C reaches the whole process group;
                // a SIGTERM to asynclens is passed on). The exit code is the signal's, as a shell's.
                var interrupted = ran.Signal == PosixSignal.SIGINT;
                var code = interrupted ? 130 : 143;
                var how = interrupted ? "interrupted (Ctrl+C)" : "stopped by SIGTERM";
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"asynclens: {how} after {ran.Elapsed.TotalSeconds:0.0} s (the program's exit code: {ran.ExitCode}): the profile of what ran was written{(path is null ? "" : $" to {path}")}"));
                return code;
            }
            if (limit is { } expected && !ran.Stopped && ran.Elapsed < expected)
            {
                throw new CliException(string.Create(CultureInfo.InvariantCulture,
                    $"the program exited after {ran.Elapsed.TotalSeconds:0.0} s (exit code {ran.ExitCode}), before --duration {parse.GetValue(duration)} was up: the profile of what ran was written"));
            }
            return ran.Stopped ? 0 : ran.ExitCode;
        });
        return command;
    }

    private static string FormatFor(string? path) => path is null ? "text"
        : path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "speedscope"
        : path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) ? "text"
        : "callgrind";
}
