using Akka.Actor;

// Orders asked of an orders actor, which asks an inventory actor (that answers after a lookup of 300 ms); a restock,
// whose async handler sleeps 300 ms before its first await (Akka runs it in a delegate task of its actor's scheduler);
// then an audit, whose handler blocks on its Ask (`.Result`): the pool thread Akka ran it on then has nothing to do for 2.5 s.
using var system = ActorSystem.Create("shop", "akka.loglevel = WARNING");
var inventory = system.ActorOf(Props.Create(() => new Inventory()), "inventory");
var orders = system.ActorOf(Props.Create(() => new Orders(inventory)), "orders");
for (var i = 0; i < 3; i++)
    Console.WriteLine(await orders.Ask<string>(new PlaceOrder(i), TimeSpan.FromSeconds(20)));
Console.WriteLine(await orders.Ask<string>(new Restock(5), TimeSpan.FromSeconds(20)));
orders.Tell(new Audit(7));
await Task.Delay(2500);
await system.Terminate();
Console.WriteLine("actors done");

public sealed record PlaceOrder(int Id);
public sealed record Reserve(int Id);
public sealed record Reserved(int Id, bool Ok);
public sealed record Audit(int Id);
public sealed record Restock(int Id);

public sealed class Orders : ReceiveActor
{
    public Orders(IActorRef inventory)
    {
        ReceiveAsync<PlaceOrder>(async order =>
        {
            var reply = await inventory.Ask<Reserved>(new Reserve(order.Id), TimeSpan.FromSeconds(20));
            Sender.Tell($"order {order.Id}: {(reply.Ok ? "reserved" : "refused")}");
        });
        ReceiveAsync<Restock>(async restock => // @actors.restock.register
        { // @actors.restock.start
            Thread.Sleep(300); // @actors.restock.sleep
            await Task.Delay(20); // @actors.restock.await
            Sender.Tell($"restocked {restock.Id}");
        });
        Receive<Audit>(audit =>
        {
            var reply = inventory.Ask<Reserved>(new Reserve(audit.Id), TimeSpan.FromSeconds(20)).Result; // @actors.audit.wait
            Console.WriteLine($"audit {audit.Id}: {reply.Ok}");
        });
    }
}

public sealed class Inventory : ReceiveActor
{
    public Inventory()
    {
        ReceiveAsync<Reserve>(async reserve =>
        {
            await Task.Delay(300);
            Sender.Tell(new Reserved(reserve.Id, true));
        });
    }
}
