using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;

namespace AsyncLens.Bench;

/// <summary>
/// A simulated request handler, shaped like an order endpoint of a web service. Per request:
/// <list type="bullet">
/// <item>3-4 levels of nested async methods: Handle → LoadCustomer → Query, and Handle → Price → Sign → Hash;</item>
/// <item>4 awaits that suspend on simulated I/O without timers: <c>Task.Yield</c> (reading the body),
/// a <see cref="SemaphoreSlim"/> connection pool narrower than the concurrency, a <see cref="Channel{T}"/>
/// round trip to "database" workers answering through a <see cref="TaskCompletionSource{T}"/>, and
/// <c>Task.Yield</c> in the leaf (offloaded crypto);</item>
/// <item>real CPU work: System.Text.Json deserialization of the request (an order of 20-40 lines) and
/// serialization of the response, SHA-256 of the payload (16 KB by default) and of a receipt.</item>
/// </list>
/// </summary>
internal sealed class OrderEndpoint : IAsyncDisposable
{
    private const int PoolSize = 8;
    private const int DatabaseWorkers = 2;

    private readonly SemaphoreSlim _connections = new(PoolSize, PoolSize);
    private readonly Channel<Query> _database = Channel.CreateBounded<Query>(new BoundedChannelOptions(256) { SingleReader = false });
    private readonly Task[] _workers;

    public OrderEndpoint()
    {
        _workers = new Task[DatabaseWorkers];
        for (var i = 0; i < _workers.Length; i++)
            _workers[i] = Task.Run(DatabaseWorker);
    }

    /// <summary>Request bodies: JSON orders with 20-40 lines and a base64 payload of <paramref name="payloadKb"/> KB.</summary>
    public static byte[][] SampleRequests(int count, int payloadKb)
    {
        var random = new Random(42);
        var bodies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var lines = new List<OrderLine>();
            for (var n = random.Next(20, 41); lines.Count < n;)
                lines.Add(new OrderLine($"SKU-{random.Next(100_000):D6}", $"Item {random.Next(1000)} of the catalogue", random.Next(1, 10), random.Next(100, 100_000) / 100m));
            var payload = new byte[payloadKb * 1024];
            random.NextBytes(payload);
            var order = new OrderRequest(Guid.NewGuid(), random.Next(1, 5000), "EUR", DateTimeOffset.UnixEpoch.AddDays(i), lines, payload, "leave at the door");
            bodies[i] = JsonSerializer.SerializeToUtf8Bytes(order, ServiceJson.Default.OrderRequest);
        }
        return bodies;
    }

    public async Task<byte[]> HandleAsync(byte[] body)
    {
        await Task.Yield(); // the body arrives from the socket
        var start = Stopwatch.GetTimestamp();
        var order = JsonSerializer.Deserialize(body, ServiceJson.Default.OrderRequest)
            ?? throw new InvalidOperationException("empty order");
        LongestStep.Observe(Stopwatch.GetElapsedTime(start));
        var customer = await LoadCustomerAsync(order.CustomerId);
        var response = await PriceAsync(order, customer);
        return JsonSerializer.SerializeToUtf8Bytes(response, ServiceJson.Default.OrderResponse);
    }

    private async Task<Customer> LoadCustomerAsync(int id)
    {
        await _connections.WaitAsync(); // a connection from the pool: 8 connections for 64 requests in flight
        try
        {
            return await QueryAsync(id);
        }
        finally
        {
            _connections.Release();
        }
    }

    private async Task<Customer> QueryAsync(int id)
    {
        var query = new Query(id, new TaskCompletionSource<Customer>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _database.Writer.WriteAsync(query);
        return await query.Reply.Task; // the round trip to the database
    }

    private async Task DatabaseWorker()
    {
        await foreach (var query in _database.Reader.ReadAllAsync())
        {
            var tier = (query.CustomerId % 3) switch { 0 => "gold", 1 => "silver", _ => "standard" };
            query.Reply.TrySetResult(new Customer(query.CustomerId, $"Customer {query.CustomerId}", tier, tier == "gold" ? 0.1m : 0.02m));
        }
    }

    private static async Task<OrderResponse> PriceAsync(OrderRequest order, Customer customer)
    {
        decimal subtotal = 0;
        foreach (var line in order.Lines)
            subtotal += line.Quantity * line.UnitPrice;
        var discount = decimal.Round(subtotal * customer.Discount, 2);
        var receipt = $"{order.OrderId}|{customer.Id}|{subtotal}|{discount}|{order.Lines.Count}";
        var signature = await SignAsync(Encoding.UTF8.GetBytes(receipt), order.Payload);
        return new OrderResponse(order.OrderId, customer.Name, subtotal, discount, subtotal - discount, order.Lines.Count, signature, order.PlacedAt);
    }

    private static async Task<string> SignAsync(byte[] receipt, byte[] payload)
    {
        var payloadHash = await HashAsync(payload);
        var combined = new byte[receipt.Length + payloadHash.Length];
        receipt.CopyTo(combined, 0);
        payloadHash.CopyTo(combined, receipt.Length);
        return Convert.ToHexString(SHA256.HashData(combined));
    }

    private static async Task<byte[]> HashAsync(byte[] data)
    {
        await Task.Yield(); // handed to a crypto worker
        return SHA256.HashData(data);
    }

    public async ValueTask DisposeAsync()
    {
        // Complete the channel and let the workers finish: nothing is left pending for the GC to collect.
        _database.Writer.Complete();
        await Task.WhenAll(_workers);
        _connections.Dispose();
    }

    private sealed record Query(int CustomerId, TaskCompletionSource<Customer> Reply);
}

/// <summary>
/// The longest wall-clock time one request spent deserializing its body (a stretch without awaits),
/// in either mode: when debug mode reports a slow step, this tells whether the workload itself
/// stalls that long without debug mode (preemption on a busy machine, GC pauses).
/// </summary>
internal static class LongestStep
{
    private static long s_ticks;

    public static TimeSpan Value => TimeSpan.FromTicks(Volatile.Read(ref s_ticks));

    public static void Observe(TimeSpan elapsed)
    {
        var ticks = elapsed.Ticks;
        var seen = Volatile.Read(ref s_ticks);
        while (ticks > seen)
        {
            var previous = Interlocked.CompareExchange(ref s_ticks, ticks, seen);
            if (previous == seen)
                return;
            seen = previous;
        }
    }

    public static void Reset() => Volatile.Write(ref s_ticks, 0);
}

internal sealed record OrderLine(string Sku, string Name, int Quantity, decimal UnitPrice);

internal sealed record OrderRequest(Guid OrderId, int CustomerId, string Currency, DateTimeOffset PlacedAt, List<OrderLine> Lines, byte[] Payload, string Note);

internal sealed record Customer(int Id, string Name, string Tier, decimal Discount);

internal sealed record OrderResponse(Guid OrderId, string CustomerName, decimal Subtotal, decimal Discount, decimal Total, int LineCount, string Signature, DateTimeOffset PlacedAt);

[JsonSerializable(typeof(OrderRequest))]
[JsonSerializable(typeof(OrderResponse))]
internal sealed partial class ServiceJson : JsonSerializerContext;
