namespace Bugs.Scenarios;

public static class SlowStep
{
    public static async Task RunAsync()
    {
        await HandleAsync(3); // @slow.created
    }

    private static async Task HandleAsync(int id)
    {
        await Task.Yield(); // @slow.resumed
        Thread.Sleep(300); // @slow.location
        await Task.Delay(id + 1); // @slow.stopped
    }
}
