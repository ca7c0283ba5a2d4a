namespace Bugs.Scenarios;

public static class Unobserved
{
    public static async Task RunAsync()
    {
        SendWelcome();
        _ = ValidateAsync(-1); // @unobserved-sync.created
        _ = Task.Run(async () => // @unobserved-run.created
        { // @unobserved-run.body
            await Task.Yield();
            throw new TimeoutException("cache refresh timed out"); // @unobserved-run.location
        });
        await Task.Delay(1400);
    }

    private static void SendWelcome()
    {
        _ = SendAsync("ada@example.com"); // @unobserved.created
    }

    private static async Task SendAsync(string address)
    {
        await Task.Delay(20);
        throw new InvalidOperationException($"mail server refused {address}"); // @unobserved.location
    }

    private static async Task ValidateAsync(int id)
    {
        if (id < 0)
            throw new ArgumentOutOfRangeException(nameof(id), "id must not be negative"); // @unobserved-sync.location
        await Task.Yield();
    }
}
