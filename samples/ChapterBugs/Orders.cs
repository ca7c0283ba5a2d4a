namespace ChapterBugs;

/// <summary>Bug 2 (blocking wait): synchronous code calls an async API and blocks a pool thread on .Result.</summary>
public static class Orders
{
    public static decimal PlaceOrder(int productId)
    {
        var price = PriceAsync(productId).Result;
        return price * 1.2m;
    }

    private static async Task<decimal> PriceAsync(int productId)
    {
        await Task.Delay(200); // a price service call
        return 9.99m + productId;
    }
}
