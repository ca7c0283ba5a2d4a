using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Grains;

// Carts priced through a pricing grain (one price is a bundle's, computed in the grain's turn; one checkout blocks on a
// grain call), carts closed (deactivated), the host stopped and disposed as a service's would be.
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Error);
builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort: FreePort(), gatewayPort: FreePort()));
using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IGrainFactory>();

var carts = Enumerable.Range(1, 20).Select(i => grains.GetGrain<ICartGrain>($"cart-{i}")).ToList();
await Task.WhenAll(carts.Select((cart, i) => cart.AddItem(i % 2 == 0 ? "apple" : "pear", i + 1)));
var big = grains.GetGrain<ICartGrain>("cart-big");
await big.AddItem("bundle-garden", 1);
Console.WriteLine($"total {await big.Checkout()}");
carts.Add(big);
await Task.WhenAll(carts.Select(cart => cart.Close()));
// Deactivations finish after the calls return; then a collection finds what they let go (as any later one would).
await Task.Delay(1500);
GC.Collect();
GC.WaitForPendingFinalizers();
await Task.Delay(600);
await host.StopAsync();
Console.WriteLine("grains done");

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}
