namespace Bugs.Scenarios;

/// <summary>
/// The time goes to an async method's first step, before its first await: it runs inside its caller's step, and
/// no event marks where it began. The report names the method that blocked, from its start to its first await.
/// </summary>
public static class FirstStep
{
    public static async Task RunAsync()
    {
        await Task.Yield();
        await LoadProfileAsync(7); // @firststep.created
    }

    private static async Task LoadProfileAsync(int id)
    { // @firststep.started
        Thread.Sleep(250); // @firststep.location
        await Task.Delay(id); // @firststep.stopped
    }
}
