namespace Bugs.Scenarios;

/// <summary>A 150 ms step: slow at the default 100 ms threshold, fine at --slow 250ms.</summary>
public static class Threshold
{
    public static async Task RunAsync()
    {
        await StepAsync(); // @threshold.created
    }

    private static async Task StepAsync()
    {
        await Task.Yield();
        Thread.Sleep(150); // @threshold.location
    }
}
