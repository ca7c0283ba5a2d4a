using AsyncLens.Diagnosis;

namespace AsyncLens.Hosting;

/// <summary>
/// <c>ASYNCLENS_WATCH=1</c> with the startup hook: the in-process watchdog (<see cref="Watchdog"/>), which writes each
/// incident to <c>ASYNCLENS_WATCH_OUTPUT</c> (a file, appended to) or standard error. Independent of debug mode and the profiler.
/// </summary>
internal static class WatchHook
{
    public const string WatchVariable = "ASYNCLENS_WATCH";
    public const string OutputVariable = "ASYNCLENS_WATCH_OUTPUT";

    public static void StartFromEnvironment(Func<string, string?> env, TextWriter errors)
    {
        if (!HookSettings.IsOn(env(WatchVariable)))
            return;
        if (ToolProcesses.IsToolProcess())
        {
            ToolProcesses.Explain(errors);
            return;
        }
        TextWriter output = errors;
        if (env(OutputVariable) is { Length: > 0 } path)
        {
            try
            {
                output = new StreamWriter(path, append: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.WriteLine($"asynclens: {OutputVariable}='{path}' cannot be written ({ex.Message}); incidents go to standard error");
            }
        }
        Watchdog.Start(output);
    }
}
