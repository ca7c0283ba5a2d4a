using System.Globalization;
using System.Runtime.InteropServices;

namespace AsyncLens.Hosting;

/// <summary>
/// The profiler's environment switches, read by the startup hook (<c>asynclens profile</c> sets them):
/// <c>ASYNCLENS_PROFILE=1</c>, <c>ASYNCLENS_PROFILE_OUTPUT</c> (a file; standard error without it),
/// <c>ASYNCLENS_PROFILE_FORMAT</c> (text|callgrind|speedscope), <c>ASYNCLENS_PROFILE_DURATION_MS</c> (stop and
/// write after this long), <c>ASYNCLENS_PROFILE_FRAMEWORK=1</c> (list framework methods), <c>ASYNCLENS_PROFILE_PACKAGES=1</c>
/// (list package methods). The profile is written once: when the duration is up, when the process exits (normally, or
/// by an unhandled exception), or when it is sent SIGINT (Ctrl+C) or SIGTERM, before the app's own handling of the
/// signal (a server's graceful shutdown, or the runtime's default: the process ends with the signal's exit code).
/// </summary>
internal static class ProfileHook
{
    public const string ProfileVariable = "ASYNCLENS_PROFILE";
    public const string OutputVariable = "ASYNCLENS_PROFILE_OUTPUT";
    public const string FormatVariable = "ASYNCLENS_PROFILE_FORMAT";
    public const string DurationVariable = "ASYNCLENS_PROFILE_DURATION_MS";
    public const string FrameworkVariable = "ASYNCLENS_PROFILE_FRAMEWORK";
    public const string PackagesVariable = "ASYNCLENS_PROFILE_PACKAGES";

    private static readonly object s_gate = new();
    private static bool s_written;
    private static Timer? s_timer;
    private static PosixSignalRegistration[]? s_signals;

    public static void StartFromEnvironment(Func<string, string?> env, TextWriter errors)
    {
        if (!HookSettings.IsOn(env(ProfileVariable)))
            return;
        if (ToolProcesses.IsToolProcess())
        {
            ToolProcesses.Explain(errors);
            return;
        }
        var format = AsyncProfileFormat.Text;
        if (env(FormatVariable) is { Length: > 0 } text && !Enum.TryParse(text, ignoreCase: true, out format) || !Enum.IsDefined(format))
        {
            errors.WriteLine($"asynclens: {FormatVariable}='{env(FormatVariable)}' is not text, callgrind or speedscope; using text");
            format = AsyncProfileFormat.Text;
        }
        var output = env(OutputVariable) is { Length: > 0 } path ? path : null;
        AsyncProfiler.Start(new AsyncProfilerOptions { IncludeFramework = HookSettings.IsOn(env(FrameworkVariable)), IncludePackages = HookSettings.IsOn(env(PackagesVariable)) });
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Write(output, format, errors);
        AppDomain.CurrentDomain.UnhandledException += (_, _) => Write(output, format, errors);
        // What was collected is written however the process is told to stop; what it does with the signal is its own.
        try
        {
            s_signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM }.Select(signal => PosixSignalRegistration.Create(signal, _ => Write(output, format, errors)))];
        }
        catch (PlatformNotSupportedException)
        {
        }
        if (env(DurationVariable) is { Length: > 0 } duration)
        {
            if (double.TryParse(duration, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms > 0 && ms < int.MaxValue)
                s_timer = new Timer(_ => Write(output, format, errors), null, TimeSpan.FromMilliseconds(ms), Timeout.InfiniteTimeSpan);
            else
                errors.WriteLine($"asynclens: {DurationVariable}='{duration}' is not a positive number of milliseconds; profiling until exit");
        }
    }

    // Once: stops the profiler and writes what it collected; a write that fails says so in one line. A second caller
    // (the process exiting while a signal's write runs) waits for the first: the process must not end in the middle.
    private static void Write(string? path, AsyncProfileFormat format, TextWriter errors)
    {
        lock (s_gate)
        {
            if (s_written)
                return;
            s_written = true;
            WriteOnce(path, format, errors);
        }
    }

    private static void WriteOnce(string? path, AsyncProfileFormat format, TextWriter errors)
    {
        try
        {
            s_timer?.Dispose();
            var profile = AsyncProfiler.Stop();
            if (path is null)
            {
                profile.Write(errors, format);
                return;
            }
            using (var writer = new StreamWriter(path, append: false))
                profile.Write(writer, format);
            errors.WriteLine(Written(profile, path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            errors.WriteLine($"asynclens: the profile could not be written: {ex.Message}");
        }
    }

    /// <summary>The line that says where a profile went (also <c>asynclens profile --pid</c>'s).</summary>
    internal static string Written(AsyncProfile profile, string path) => string.Create(CultureInfo.InvariantCulture,
        $"asynclens: profile of {profile.Duration.TotalSeconds:0.000} s ({profile.Methods.Count} async method{(profile.Methods.Count == 1 ? "" : "s")}) written to {path}");
}
