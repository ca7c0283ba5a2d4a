using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using AsyncLens.Bench;

/// <summary>
/// The harness as a startup hook, for benchmarks only (bench/web-overhead.sh): <c>DOTNET_STARTUP_HOOKS=AsyncLens.Bench.dll
/// ASYNCLENS_BENCH_HOOK=PART</c> runs one part of what debug mode on .NET 11's async events alone does in an app that
/// knows nothing of AsyncLens, so the parts of its cost can be measured one by one (<see cref="BenchHook"/>). Debug mode
/// itself is not switched on. Never throws: a throwing hook would stop the app.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        try
        {
            // The engine sits next to this assembly, not in the app's directory: the default context would not find it.
            var here = Path.GetDirectoryName(System.Reflection.Assembly.GetExecutingAssembly().Location)!;
            AssemblyLoadContext.Default.Resolving += (context, name) =>
                File.Exists(Path.Combine(here, name.Name + ".dll")) ? context.LoadFromAssemblyPath(Path.Combine(here, name.Name + ".dll")) : null;
            Start();
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"asynclens-bench: hook not started: {ex}");
        }
    }

    // Out of Initialize: its first use of an engine type loads the engine, which needs the resolver above in place.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Start() => BenchHook.Start(Environment.GetEnvironmentVariable(BenchHook.Variable), Console.Error);
}
