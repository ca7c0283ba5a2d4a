using AsyncLens.Hosting;

/// <summary>
/// Entry point for <c>DOTNET_STARTUP_HOOKS=/path/AsyncLens.dll</c>: the runtime calls
/// <see cref="Initialize"/> before <c>Main</c>. With <c>ASYNCLENS_DEBUG=1</c> it switches debug mode
/// on, with <c>ASYNCLENS_PROFILE=1</c> the async profiler,
/// with <c>ASYNCLENS_WATCH=1</c> the watchdog; without them it does nothing. It never throws: a throwing startup hook would stop the app.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        try
        {
            HookSettings.StartFromEnvironment(Environment.GetEnvironmentVariable, Console.Error);
            ProfileHook.StartFromEnvironment(Environment.GetEnvironmentVariable, Console.Error);
            WatchHook.StartFromEnvironment(Environment.GetEnvironmentVariable, Console.Error);
        }
        catch (Exception ex)
        {
            try
            {
                Console.Error.WriteLine($"asynclens: not started: {ex.Message}");
            }
            catch (IOException)
            {
            }
        }
    }
}
