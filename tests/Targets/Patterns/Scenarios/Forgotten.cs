using AsyncLens;

namespace Patterns.Scenarios;

// Fire-and-forget through AsyncLens's Forget() with no handler: the fault is reported, debug mode on or off.
public static class Forgotten
{
    public static async Task RunAsync()
    {
        NotifyAsync("ada").Forget(); // @forget.line
        await Task.Delay(300);
    }

    private static async Task NotifyAsync(string user)
    {
        await Task.Delay(20);
        throw new InvalidOperationException($"push service refused {user}"); // @forget.thrown
    }
}
