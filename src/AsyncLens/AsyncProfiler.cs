using AsyncLens.Profiling;

namespace AsyncLens;

/// <summary>
/// The async profiler, the .NET form of yappi in wall-clock mode: per async method, calls, wall time (start to
/// completion), on-thread time (its steps) and awaiting time, and who awaited whom. <see cref="Start()"/>,
/// run the code, <see cref="Stop"/>; or, with no code change, <c>asynclens profile -- app</c>. Async methods of the
/// framework and of NuGet packages are folded into the user method above them unless
/// <see cref="AsyncProfilerOptions.IncludeFramework"/> / <see cref="AsyncProfilerOptions.IncludePackages"/>.
/// </summary>
public static class AsyncProfiler
{
    private static readonly object s_gate = new();
    private static IProfilerEngine? s_engine;

    /// <summary>True between <see cref="Start()"/> and <see cref="Stop"/>.</summary>
    public static bool IsRunning => Volatile.Read(ref s_engine) is not null;

    /// <summary>Starts profiling with the default options (framework and package methods folded).</summary>
    public static void Start() => Start(new AsyncProfilerOptions());

    /// <summary>Starts profiling. Async methods already running are profiled from now.</summary>
    /// <exception cref="InvalidOperationException">The profiler is already running.</exception>
    /// <exception cref="PlatformNotSupportedException">The runtime lacks the task internals AsyncLens reads.</exception>
    public static void Start(AsyncProfilerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (s_gate)
        {
            if (s_engine is not null)
                throw new InvalidOperationException("the async profiler is already running: Stop() it first");
            var scope = new ProfileScope(options.IncludeFramework, options.IncludePackages);
            IProfilerEngine engine = Tracking.StepSource.FromEnvironment(Console.Error) == Tracking.StepSourceKind.Tpl
                ? new ProfilerEngine(AsyncDebug.AcquireTracking(), scope)
                : new EventProfilerEngine(scope);
            Volatile.Write(ref s_engine, engine);
        }
    }

    /// <summary>Stops profiling and returns what it measured.</summary>
    /// <exception cref="InvalidOperationException">The profiler is not running.</exception>
    public static AsyncProfile Stop()
    {
        lock (s_gate)
        {
            var engine = s_engine ?? throw new InvalidOperationException("the async profiler is not running: Start() it first");
            var profile = engine.Stop();
            Volatile.Write(ref s_engine, null);
            engine.Release();
            return profile;
        }
    }
}

/// <summary>Options of <see cref="AsyncProfiler.Start(AsyncProfilerOptions)"/>.</summary>
public sealed record AsyncProfilerOptions
{
    /// <summary>List framework async methods (System.*, Microsoft.*, ASP.NET Core) as themselves instead of folding them into the user method that awaited them.</summary>
    public bool IncludeFramework { get; init; }

    /// <summary>List the async methods of NuGet packages (Npgsql, Dapper, ...: the app's deps.json says which) as themselves instead of folding them.</summary>
    public bool IncludePackages { get; init; }
}
