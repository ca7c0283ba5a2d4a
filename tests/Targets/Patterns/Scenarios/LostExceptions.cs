namespace Patterns.Scenarios;

// Task.WhenAll faulted twice; the await throws only the first, and the second is never seen.
public static class LostExceptions
{
    public static async Task RunAsync()
    {
        try
        {
            await SyncAllAsync(); // @lost.called
        }
        catch (IOException e)
        {
            Console.WriteLine($"sync failed: {e.Message}");
        }
        await Task.Delay(300);
    }

    private static async Task SyncAllAsync()
    {
        var users = PushAsync("users", 10);
        var orders = ArchiveAsync("orders", 150); // @lost.orders
        await Task.WhenAll(users, orders); // @lost.await
    }

    private static async Task PushAsync(string table, int ms)
    {
        await Task.Delay(ms);
        throw new IOException($"replica refused {table}");
    }

    private static async Task ArchiveAsync(string table, int ms)
    {
        await Task.Delay(ms);
        throw new IOException($"archive refused {table}"); // @lost.thrown
    }
}
