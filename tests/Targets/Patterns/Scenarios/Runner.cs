namespace Patterns.Scenarios;

/// <summary>Runs one scenario, named by the first argument.</summary>
public static class Runner
{
    private static readonly Dictionary<string, Func<Task>> s_scenarios = new()
    {
        ["forget"] = Forgotten.RunAsync,
        ["lost"] = LostExceptions.RunAsync,
        ["deadlock"] = Deadlock.RunAsync,
        ["exclusive"] = ExclusiveDeadlock.RunAsync,
        ["cleanup"] = CancelledCleanup.RunAsync,
        ["dispose"] = CancelledDispose.RunAsync,
        ["async-void"] = AsyncVoid.RunAsync,
        ["async-void-sync"] = AsyncVoid.RunSyncAsync,
        ["healthy"] = Healthy.RunAsync,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 1 || !s_scenarios.TryGetValue(args[0], out var scenario))
        {
            Console.Error.WriteLine($"usage: Patterns {string.Join('|', s_scenarios.Keys)} [--in-code]");
            return 3;
        }
        Console.WriteLine($"scenario {args[0]}");
        await scenario();
        Console.WriteLine($"scenario {args[0]} done");
        return 0;
    }
}
