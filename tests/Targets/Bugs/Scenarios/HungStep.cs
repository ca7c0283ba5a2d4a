namespace Bugs.Scenarios;

public static class HungStep
{
    public static async Task RunAsync()
    {
        await RebuildAsync(); // @hung.created
    }

    private static async Task RebuildAsync()
    {
        await Task.Yield(); // @hung.resumed
        Thread.Sleep(1400); // @hung.location
    } // @hung.stopped
}
