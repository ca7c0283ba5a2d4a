namespace Bugs.Scenarios;

/// <summary>Runs the named scenarios (or all of them) one after another.</summary>
public static class Runner
{
    private static readonly Dictionary<string, Func<Task>> s_scenarios = new()
    {
        ["slow"] = SlowStep.RunAsync,
        ["slow-call"] = SlowCall.RunAsync,
        ["hung"] = HungStep.RunAsync,
        ["blocking"] = BlockingWait.RunAsync,
        ["blocking-step"] = BlockingInStep.RunAsync,
        ["deadlock"] = Deadlock.RunAsync,
        ["unobserved"] = Unobserved.RunAsync,
        ["collected"] = Collected.RunAsync,
        ["first-step"] = FirstStep.RunAsync,
        ["never-awaits"] = NeverAwaits.RunAsync,
        ["busy-loop"] = BusyLoop.RunAsync,
        ["parallel-first-step"] = ParallelBody.RunAsync,
        ["threshold"] = Threshold.RunAsync,
        ["main-first-step"] = MainFirstStep.RunAsync,
    };

    // Not in "all": each needs a process of its own (a threshold of its own; Main's first step).
    private static readonly string[] s_alone = ["threshold", "main-first-step"];

    public static async Task<int> RunAsync(string[] args)
    {
        var names = args.Length == 0 || args[0] == "all" ? s_scenarios.Keys.Except(s_alone).ToArray() : args;
        foreach (var name in names)
        {
            if (!s_scenarios.TryGetValue(name, out var scenario))
            {
                Console.Error.WriteLine($"unknown scenario '{name}'");
                return 3;
            }
            Console.WriteLine($"scenario {name}");
            await scenario(); // @runner.await
        }
        return 0;
    }
}
