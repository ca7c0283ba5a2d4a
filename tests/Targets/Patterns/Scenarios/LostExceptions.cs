namespace Patterns.Scenarios;

// Task.WhenAll faulted twice; the await throws only the first, and the second is never seen.
public static class LostExceptions
{
    public static async Task RunAsync()
    {
        try
        {
            await SyncAllAsync();
        }
        catch (IOException e)
        {
            Console.WriteLine($"sync failed: {e.Message}");
        }
        await Task.Delay(300);
    }

    private static async Task SyncAllAsync()
    {
        var users = PushAsync("users", 10); // @lost.users
        var orders = PushAsync("orders", 150); // @lost.orders
        await Task.WhenAll(users, orders); // @lost.await
    }

    private static async Task PushAsync(string table, int ms)
    {
        await Task.Delay(ms);
        throw new IOException($"replica refused {table}"); // @lost.thrown
    }
}
