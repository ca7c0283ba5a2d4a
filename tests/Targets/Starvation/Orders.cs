namespace Starvation;

/// <summary>Orders totalled from a price service that answers after a short delay.</summary>
internal static class Orders
{
    public static void Load(bool blocking)
    {
        var id = 0;
        while (true)
        {
            for (var i = 0; i < 16; i++)
            {
                var order = ++id;
                if (blocking)
                    ThreadPool.QueueUserWorkItem(_ => Total(order));
                else
                    _ = Task.Run(() => TotalAsync(order));
            }
            Thread.Sleep(50);
        }
    }

    private static int Total(int order) =>
        Prices.GetPriceAsync(order).Result * 2; // @starve.result

    private static async Task<int> TotalAsync(int order) =>
        await Prices.GetPriceAsync(order) * 2;
}

internal static class Prices
{
    public static async Task<int> GetPriceAsync(int item)
    {
        await Task.Delay(20); // @starve.await
        return item % 100;
    }
}
