using System.Threading.Channels;
using Microsoft.AspNetCore.Mvc;

namespace ShopApi;

/// <summary>
/// An MVC controller (MVC beside the minimal API) with a seeded bug: a synchronous action blocking on two
/// lookups of the price feed (each a blocking-wait), after 20 ms of the feed's client-side throttle: too short to be a
/// slow step, with or without the waits beside it.
/// </summary>
[ApiController]
public sealed class PricesController(PriceFeed feed) : ControllerBase
{
    [HttpGet("/bug/total")]
    public decimal Total()
    {
        PriceFeed.Throttle();
        return feed.PriceAsync(1).Result + feed.PriceAsync(2).Result; // @shop.total.wait
    }
}

/// <summary>
/// Prices from a feed connection, answered the way a multiplexing client answers (StackExchange.Redis): each request
/// queued with a TaskCompletionSource, completed by the connection's reader loop as its answer comes (120 ms).
/// </summary>
public sealed class PriceFeed
{
    private readonly Channel<(int Id, TaskCompletionSource<decimal> Answer)> _requests = Channel.CreateUnbounded<(int, TaskCompletionSource<decimal>)>();

    public PriceFeed() => _ = Task.Run(ReadAnswersAsync);

    /// <summary>At most one caller every 20 ms.</summary>
    public static void Throttle() => Thread.Sleep(20);

    public Task<decimal> PriceAsync(int id)
    {
        var answer = new TaskCompletionSource<decimal>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Writer.TryWrite((id, answer));
        return answer.Task;
    }

    private async Task ReadAnswersAsync()
    {
        await foreach (var (id, answer) in _requests.Reader.ReadAllAsync())
        {
            await Task.Delay(120);
            answer.SetResult(id * 1.5m);
        }
    }
}
