namespace Bugs.Scenarios;

/// <summary>
/// Run first (`Bugs main-first-step`), this blocks inside async Main's first step: Main has no task yet, so no
/// event brackets the stretch from the start of the program to Main's first await.
/// </summary>
public static class MainFirstStep
{
    public static async Task RunAsync()
    {
        await ConnectAsync(); // @mainfirst.created
    }

    private static async Task ConnectAsync()
    { // @mainfirst.started
        Thread.Sleep(300); // @mainfirst.location
        await Task.Delay(20); // @mainfirst.stopped
    }
}
