namespace MainWait;

public static class Poller
{
    private static readonly object s_gate = new();

    public static async Task PollAsync()
    {
        await Task.Delay(200); // @mainwait.resumed
        lock (s_gate)
            Thread.Sleep(300); // @mainwait.location
        await Task.Delay(400); // @mainwait.stopped
    }
}
