using System.Globalization;

namespace AsyncLens.Hosting;

/// <summary>
/// The environment switches: <c>ASYNCLENS_DEBUG=1</c> (debug mode) or <c>ASYNCLENS_TASKS=1</c> (the task
/// inventory and its <c>kill -USR1</c> dump alone), <c>ASYNCLENS_CONSOLE=1</c> (the live console, on the inventory), with <c>ASYNCLENS_SLOW_MS</c>, <c>ASYNCLENS_FORMAT</c>
/// (text|json), <c>ASYNCLENS_OUTPUT</c> (a file, appended to) and <c>ASYNCLENS_DUMP_FORMAT</c>
/// (tree|stacks|json) as the options. A bad value is reported in one line and replaced by its default;
/// the app starts either way.
/// </summary>
internal static class HookSettings
{
    public const string DebugVariable = "ASYNCLENS_DEBUG";
    public const string SlowVariable = "ASYNCLENS_SLOW_MS";
    public const string FormatVariable = "ASYNCLENS_FORMAT";
    public const string OutputVariable = "ASYNCLENS_OUTPUT";
    public const string TasksVariable = "ASYNCLENS_TASKS";
    public const string DumpFormatVariable = "ASYNCLENS_DUMP_FORMAT";
    public const string ConsoleVariable = "ASYNCLENS_CONSOLE";

    public static void StartFromEnvironment(Func<string, string?> env, TextWriter errors)
    {
        var debug = IsOn(env(DebugVariable));
        var console = IsOn(env(ConsoleVariable));
        if (!debug && !console && !IsOn(env(TasksVariable)))
            return;
        if (ToolProcesses.IsToolProcess())
        {
            ToolProcesses.Explain(errors);
            return;
        }
        var options = Parse(env, errors, out var outputPath);
        TextWriter output = errors;
        string? outputName = null;
        if (outputPath is not null)
        {
            try
            {
                var stream = new FileStream(outputPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                output = TextWriter.Synchronized(new StreamWriter(stream) { AutoFlush = true });
                outputName = $"'{outputPath}'";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                errors.WriteLine($"asynclens: cannot write to {OutputVariable}='{outputPath}' ({ex.Message}); reporting to standard error");
            }
        }
        if (debug)
            AsyncDebug.Enable(options with { Output = output, OutputName = outputName });
        else
            AsyncDebug.TrackTasks(dumpOnSignal: true, output, options.DumpFormat);
        if (console)
            StartConsole(errors);
    }

    // The console failing to start (a directory someone else owns) is one line; debug mode and the app go on.
    private static void StartConsole(TextWriter errors)
    {
        try
        {
            var socket = AsyncDebug.StartConsole(errors);
            errors.WriteLine($"asynclens: console on {socket} (asynclens console {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)})");
        }
        catch (Exception ex) when (ex is InvalidOperationException or PlatformNotSupportedException)
        {
            errors.WriteLine($"{ex.Message}; not started");
        }
    }

    public static AsyncDebugOptions Parse(Func<string, string?> env, TextWriter errors, out string? outputPath)
    {
        var options = new AsyncDebugOptions();
        if (env(SlowVariable) is { Length: > 0 } slow)
        {
            if (double.TryParse(slow, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms > 0 && ms < TimeSpan.MaxValue.TotalMilliseconds / 100)
                options = options with { SlowStepThreshold = TimeSpan.FromMilliseconds(ms) };
            else
                errors.WriteLine($"asynclens: {SlowVariable}='{slow}' is not a positive number of milliseconds; using 100");
        }
        if (env(FormatVariable) is { Length: > 0 } format)
        {
            if (format.Equals("json", StringComparison.OrdinalIgnoreCase))
                options = options with { Format = AsyncReportFormat.Json };
            else if (!format.Equals("text", StringComparison.OrdinalIgnoreCase))
                errors.WriteLine($"asynclens: {FormatVariable}='{format}' is not text or json; using text");
        }
        if (env(DumpFormatVariable) is { Length: > 0 } dump)
        {
            if (Enum.TryParse<TaskDumpFormat>(dump, ignoreCase: true, out var dumpFormat) && Enum.IsDefined(dumpFormat) && !int.TryParse(dump, out _))
                options = options with { DumpFormat = dumpFormat };
            else
                errors.WriteLine($"asynclens: {DumpFormatVariable}='{dump}' is not tree, stacks or json; using stacks");
        }
        outputPath = env(OutputVariable) is { Length: > 0 } path ? path : null;
        return options;
    }

    public static bool IsOn(string? value) =>
        value is not null && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase)
            || value.Equals("yes", StringComparison.OrdinalIgnoreCase) || value.Equals("on", StringComparison.OrdinalIgnoreCase));
}
