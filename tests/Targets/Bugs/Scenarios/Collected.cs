namespace Bugs.Scenarios;

public static class Collected
{
    public static async Task RunAsync()
    {
        Abandon();
        await Task.Delay(1200); // debug mode moves tasks to weak handles once a second
        await Task.Run(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        });
        await Task.Delay(600);
    }

    private static void Abandon()
    {
        _ = OuterAsync(new TaskCompletionSource<string>()); // @collected-outer.created
    }

    private static async Task<int> OuterAsync(TaskCompletionSource<string> reply)
    {
        var text = await WaitForReplyAsync(reply); // @collected-outer.location
        return text.Length;
    }

    private static async Task<string> WaitForReplyAsync(TaskCompletionSource<string> reply)
    {
        var text = await reply.Task; // @collected.location
        return text.Trim();
    }
}
