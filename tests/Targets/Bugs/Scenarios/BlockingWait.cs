namespace Bugs.Scenarios;

public static class BlockingWait
{
    public static async Task RunAsync()
    {
        await Task.Run(() => PlaceOrder(7)); // @blocking.created
    }

    private static decimal PlaceOrder(int id)
    {
        var price = PriceAsync(id).Result; // @blocking.location
        return price * 2;
    }

    private static async Task<decimal> PriceAsync(int id)
    {
        await Task.Delay(250); // @blocking.parked
        return id;
    }
}
