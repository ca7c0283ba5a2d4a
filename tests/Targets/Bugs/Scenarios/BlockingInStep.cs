namespace Bugs.Scenarios;

public static class BlockingInStep
{
    public static async Task RunAsync()
    {
        await CheckoutAsync(); // @blockingstep.created
    }

    private static async Task CheckoutAsync()
    {
        await Task.Yield();
        var total = TotalAsync().GetAwaiter().GetResult(); // @blockingstep.location
        GC.KeepAlive(total);
    }

    private static async Task<int> TotalAsync()
    {
        await Task.Delay(200);
        return 42;
    }
}
