using System.ComponentModel;
using System.Diagnostics;
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
        var start = StartInfo(command);
        var enginePath = typeof(AsyncDebug).Assembly.Location;
        var hooks = Environment.GetEnvironmentVariable("DOTNET_STARTUP_HOOKS");
        start.Environment["DOTNET_STARTUP_HOOKS"] = string.IsNullOrEmpty(hooks) ? enginePath : enginePath + System.IO.Path.PathSeparator + hooks;
        start.Environment["ASYNCLENS_DEBUG"] = "1";
        start.Environment["ASYNCLENS_SLOW_MS"] = Durations.Format(settings.SlowThreshold);
        start.Environment["ASYNCLENS_FORMAT"] = settings.Format;
        start.Environment["ASYNCLENS_DUMP_FORMAT"] = settings.DumpFormat;
        if (settings.OutputPath is { } output)
            start.Environment["ASYNCLENS_OUTPUT"] = System.IO.Path.GetFullPath(output);
        else
            start.Environment.Remove("ASYNCLENS_OUTPUT");

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new CliException($"cannot start '{command[0]}'");
        }
        catch (Win32Exception ex)
        {
            // The runtime's message is a paragraph; the OS's reason is the useful part.
            throw new CliException($"cannot start '{command[0]}': {new Win32Exception(ex.NativeErrorCode).Message}");
        }
        using (process)
        using (Forward(PosixSignal.SIGINT, process, forward: false))
        using (Forward(PosixSignal.SIGTERM, process, forward: true))
        using (Forward(PosixSignal.SIGQUIT, process, forward: false))
        {
            process.WaitForExit();
            return process.ExitCode;
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
    private static IDisposable? Forward(PosixSignal signal, Process process, bool forward)
    {
        if (OperatingSystem.IsWindows())
            return null;
        return PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            if (forward && !process.HasExited)
                _ = Kill(process.Id, 15);
        });
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>Debug mode settings passed to the child program.</summary>
internal sealed record DebugSettings(TimeSpan SlowThreshold, string Format, string? OutputPath, string DumpFormat = "stacks");
