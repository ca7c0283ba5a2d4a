// Orders over a Wolverine bus, in process. Healthy: PlaceOrder and GetTotal, sent and awaited (InvokeAsync); a FailOrder
// whose handler throws, which Wolverine catches, logs and moves to its error queue (nothing unobserved). Seeded: a
// ShipOrder published to a local queue whose handler blocks before its first await, and an AuditOrder whose handler
// blocks on a task (`.Result`).
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wolverine;

var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.None);
builder.UseWolverine(options => options.Discovery.IncludeAssembly(typeof(ShipOrderHandler).Assembly));
using var host = builder.Build();
await host.StartAsync();
var bus = host.Services.GetRequiredService<IMessageBus>();
for (var i = 0; i < 5; i++)
    await bus.InvokeAsync(new PlaceOrder(i, 10m * i));
Console.WriteLine($"total {await bus.InvokeAsync<decimal>(new GetTotal(3))}");
await bus.PublishAsync(new ShipOrder(3));
await bus.InvokeAsync(new AuditOrder(3)); // @messages.main.audit
await bus.PublishAsync(new FailOrder(4));
await ShipOrderHandler.Shipped.Task.WaitAsync(TimeSpan.FromSeconds(30));
await Task.Delay(500); // the failed order's retries, before the host stops
await host.StopAsync();
Console.WriteLine("messages done");

public record PlaceOrder(int Id, decimal Amount);

public record GetTotal(int Id);

public record ShipOrder(int Id);

public record AuditOrder(int Id);

public record FailOrder(int Id);

public static class Store
{
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<int, decimal> Orders = new();

    public static async Task<decimal> LoadAsync(int id)
    {
        await Task.Delay(150); // @messages.load.delay
        return Orders.GetValueOrDefault(id);
    }
}

public class PlaceOrderHandler
{
    public async Task Handle(PlaceOrder order)
    {
        await Task.Delay(5);
        Store.Orders[order.Id] = order.Amount;
    }
}

public class GetTotalHandler
{
    public async Task<decimal> Handle(GetTotal query) => await Store.LoadAsync(query.Id);
}

public class ShipOrderHandler
{
    public static readonly TaskCompletionSource Shipped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task Handle(ShipOrder order)
    {
        Thread.Sleep(400); // @messages.ship.sleep
        await Task.Delay(10); // @messages.ship.first-await
        Console.WriteLine($"shipped {order.Id}");
        Shipped.TrySetResult();
    }
}

public class AuditOrderHandler
{
    public async Task Handle(AuditOrder order)
    {
        var amount = Store.LoadAsync(order.Id).Result; // @messages.audit.wait
        await Task.Yield();
        Console.WriteLine($"audited {order.Id}: {amount}");
    }
}

public class FailOrderHandler
{
    public async Task Handle(FailOrder order)
    {
        await Task.Delay(5);
        throw new InvalidOperationException($"order {order.Id} cannot be failed over");
    }
}
