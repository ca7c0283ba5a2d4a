using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AsyncLens.Cli.Hosting;

/// <summary>
/// Starts a program with the AsyncLens engine injected through <c>DOTNET_STARTUP_HOOKS</c> and debug
/// mode switched on through <c>ASYNCLENS_*</c> variables, with its standard streams inherited, and
/// returns its exit code. Ctrl+C reaches the program (same process group) and this process waits
/// for it; SIGTERM is passed on.
/// </summary>
internal static class DebuggedProcess
{
    public static int Run(IReadOnlyList<string> command, DebugSettings settings)
    {
        var env = new Dictionary<string, string?>
        {
            ["ASYNCLENS_DEBUG"] = "1",
            ["ASYNCLENS_SLOW_MS"] = Durations.Format(settings.SlowThreshold),
            ["ASYNCLENS_FORMAT"] = settings.Format,
            ["ASYNCLENS_DUMP_FORMAT"] = settings.DumpFormat,
            ["ASYNCLENS_OUTPUT"] = settings.OutputPath is { } output ? System.IO.Path.GetFullPath(output) : null,
            ["ASYNCLENS_CONSOLE"] = settings.Console ? "1" : null,
        };
        return Run(command, env, stopAfter: null).ExitCode;
    }

    /// <summary>
    /// Runs <paramref name="command"/> with the engine as its startup hook and <paramref name="env"/> set (a null
    /// value removes the variable). With <paramref name="stopAfter"/>, a program still running then is sent SIGTERM.
    /// </summary>
    public static Ran Run(IReadOnlyList<string> command, IReadOnlyDictionary<string, string?> env, TimeSpan? stopAfter)
    {
        var start = StartInfo(command);
        var enginePath = typeof(AsyncDebug).Assembly.Location;
        var hooks = Environment.GetEnvironmentVariable("DOTNET_STARTUP_HOOKS");
        start.Environment["DOTNET_STARTUP_HOOKS"] = string.IsNullOrEmpty(hooks) ? enginePath : enginePath + System.IO.Path.PathSeparator + hooks;
        foreach (var (name, value) in env)
        {
            if (value is null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }

        Process process;
        var watch = Stopwatch.StartNew();
        try
        {
            process = Process.Start(start) ?? throw new CliException($"cannot start '{command[0]}'");
        }
        catch (Win32Exception ex)
        {
            // The runtime's message is a paragraph; the OS's reason is the useful part.
            throw new CliException($"cannot start '{command[0]}': {new Win32Exception(ex.NativeErrorCode).Message}");
        }
        var received = new StrongBox<PosixSignal?>();
        using (process)
        using (Forward(PosixSignal.SIGINT, process, forward: false, received))
        using (Forward(PosixSignal.SIGTERM, process, forward: true, received))
        using (Forward(PosixSignal.SIGQUIT, process, forward: false, received))
        {
            var stopped = false;
            if (stopAfter is { } limit && !process.WaitForExit(limit))
            {
                stopped = true;
                _ = Kill(process.Id, 15);
            }
            process.WaitForExit();
            return new Ran(process.ExitCode, watch.Elapsed, stopped, stopped ? null : received.Value);
        }
    }

    private static ProcessStartInfo StartInfo(IReadOnlyList<string> command)
    {
        var program = command[0];
        var args = command.Skip(1);
        // A framework-dependent app given as its dll runs through the dotnet host.
        if (program.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            if (!File.Exists(program))
                throw new CliException($"cannot start '{program}': no such file");
            args = args.Prepend(program);
            program = DotnetHost.Path();
        }
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        return start;
    }

    // Ctrl+C goes to the whole foreground process group: the program gets it itself, and this process stays
    // to report its exit code. A SIGTERM sent to this process alone is passed on.
    private static IDisposable? Forward(PosixSignal signal, Process process, bool forward, StrongBox<PosixSignal?> received)
    {
        if (OperatingSystem.IsWindows())
            return null;
        return PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            received.Value ??= signal;
            if (forward && !process.HasExited)
                _ = Kill(process.Id, 15);
        });
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>
/// How a program run by <see cref="DebuggedProcess.Run(IReadOnlyList{string}, IReadOnlyDictionary{string, string?}, TimeSpan?)"/>
/// ended: its exit code, how long it ran, whether asynclens stopped it (the duration), the signal asynclens was sent meanwhile.
/// </summary>
internal readonly record struct Ran(int ExitCode, TimeSpan Elapsed, bool Stopped, PosixSignal? Signal = null);

/// <summary>Debug mode settings passed to the child program.</summary>
/// <param name="Console">Also start the live console (<c>asynclens run --console</c>).</param>
internal sealed record DebugSettings(TimeSpan SlowThreshold, string Format, string? OutputPath, string DumpFormat = "stacks", bool Console = false);
