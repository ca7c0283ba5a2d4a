using System.Collections.Concurrent;

namespace AsyncLens.Bench.Web;

internal sealed record Product(string Sku, string Name, string Category, decimal UnitPrice, decimal TaxRate);

internal sealed record CustomerRecord(int Id, string Name, string Email, string Tier, string Country);

internal sealed record OrderLineRecord(string Sku, int Quantity);

internal sealed record OrderRecord(int Id, int CustomerId, DateTimeOffset PlacedAt, string Status, string Currency, IReadOnlyList<OrderLineRecord> Lines, string? Note);

/// <summary>The product catalogue: 2,000 products, read-only and in memory (loaded at startup, as many services cache it).</summary>
internal sealed class Catalog
{
    public const int Size = 2_000;

    private static readonly string[] s_categories = ["books", "garden", "kitchen", "office", "toys", "tools", "food", "sports"];

    private readonly Dictionary<string, Product> _products = new(StringComparer.Ordinal);

    public Catalog()
    {
        var random = new Random(7);
        for (var i = 0; i < Size; i++)
        {
            var category = s_categories[random.Next(s_categories.Length)];
            var sku = SkuOf(i);
            _products[sku] = new Product(sku, $"{char.ToUpperInvariant(category[0])}{category[1..]} item {i:D4}", category,
                random.Next(199, 25_000) / 100m, category == "food" || category == "books" ? 0.07m : 0.19m);
        }
    }

    public static string SkuOf(int index) => $"SKU-{index:D5}";

    public bool TryGet(string sku, out Product product) => _products.TryGetValue(sku, out product!);
}

/// <summary>
/// The simulated database: 1,000 customers and 20,000 orders of 10-20 lines, in memory. Every query
/// takes a connection from a pool of 16 (<see cref="SemaphoreSlim"/>) and yields once, as a query's
/// round trip to a database would suspend it; no timers, so the service is CPU-bound on its own work.
/// </summary>
internal sealed class OrderStore : IDisposable
{
    public const int Customers = 1_000;
    public const int SeededOrders = 20_000;
    private const int PoolSize = 16;
    private const int NewOrderIds = 20_000; // POSTed orders reuse ids above the seeded ones, so memory stays flat

    private static readonly string[] s_tiers = ["standard", "standard", "standard", "silver", "silver", "gold"];
    private static readonly string[] s_countries = ["DE", "FR", "NL", "IT", "ES", "AT", "BE", "PL"];
    private static readonly string[] s_statuses = ["placed", "paid", "shipped", "shipped", "delivered", "delivered", "delivered"];

    private readonly SemaphoreSlim _connections = new(PoolSize, PoolSize);
    private readonly Dictionary<int, CustomerRecord> _customers = [];
    private readonly ConcurrentDictionary<int, OrderRecord> _orders = new();
    private int _nextOrder;

    public OrderStore()
    {
        var random = new Random(42);
        for (var id = 1; id <= Customers; id++)
            _customers[id] = new CustomerRecord(id, $"Customer {id}", $"customer{id}@example.org", s_tiers[random.Next(s_tiers.Length)], s_countries[random.Next(s_countries.Length)]);
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var id = 1; id <= SeededOrders; id++)
        {
            var lines = new OrderLineRecord[random.Next(10, 21)];
            for (var i = 0; i < lines.Length; i++)
                lines[i] = new OrderLineRecord(Catalog.SkuOf(random.Next(Catalog.Size)), random.Next(1, 6));
            _orders[id] = new OrderRecord(id, random.Next(1, Customers + 1), start.AddMinutes(id * 13), s_statuses[random.Next(s_statuses.Length)], "EUR", lines, id % 5 == 0 ? "leave at the door" : null);
        }
    }

    public async Task<OrderRecord?> FindOrderAsync(int id, CancellationToken cancel)
    {
        await _connections.WaitAsync(cancel);
        try
        {
            await Task.Yield(); // the query's round trip
            return _orders.GetValueOrDefault(id);
        }
        finally
        {
            _connections.Release();
        }
    }

    /// <summary><c>SELECT ... FROM order_lines JOIN products ... WHERE order_id = @id ORDER BY sku</c>.</summary>
    public async Task<List<(OrderLineRecord Line, Product Product)>> QueryLinesAsync(OrderRecord order, Catalog catalog, CancellationToken cancel)
    {
        await _connections.WaitAsync(cancel);
        try
        {
            await Task.Yield();
            var rows = new List<(OrderLineRecord, Product)>(order.Lines.Count);
            foreach (var line in order.Lines)
            {
                if (catalog.TryGet(line.Sku, out var product))
                    rows.Add((line, product));
            }
            rows.Sort((a, b) => string.CompareOrdinal(a.Item1.Sku, b.Item1.Sku));
            return rows;
        }
        finally
        {
            _connections.Release();
        }
    }

    public async Task<CustomerRecord?> FindCustomerAsync(int id, CancellationToken cancel)
    {
        await _connections.WaitAsync(cancel);
        try
        {
            await Task.Yield();
            return _customers.GetValueOrDefault(id);
        }
        finally
        {
            _connections.Release();
        }
    }

    public async Task<OrderRecord> InsertOrderAsync(int customerId, string currency, IReadOnlyList<OrderLineRecord> lines, string? note, CancellationToken cancel)
    {
        await _connections.WaitAsync(cancel);
        try
        {
            await Task.Yield();
            var id = SeededOrders + 1 + (int)((uint)Interlocked.Increment(ref _nextOrder) % NewOrderIds);
            var order = new OrderRecord(id, customerId, DateTimeOffset.UtcNow, "placed", currency, lines, note);
            _orders[id] = order;
            return order;
        }
        finally
        {
            _connections.Release();
        }
    }

    public void Dispose() => _connections.Dispose();
}

/// <summary>
/// Customers cached for 5 s in a dictionary guarded by a <see cref="SemaphoreSlim"/> (an async lock), the
/// way services commonly cache: look up under the lock, load a miss outside it, store it under the lock.
/// </summary>
internal sealed class CustomerCache(OrderStore store) : IDisposable
{
    private static readonly TimeSpan s_lifetime = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<int, (CustomerRecord Customer, DateTime Expires)> _entries = [];

    public async Task<CustomerRecord?> GetAsync(int id, CancellationToken cancel)
    {
        await _lock.WaitAsync(cancel);
        try
        {
            if (_entries.TryGetValue(id, out var entry) && entry.Expires > DateTime.UtcNow)
                return entry.Customer;
        }
        finally
        {
            _lock.Release();
        }

        var customer = await store.FindCustomerAsync(id, cancel);
        if (customer is null)
            return null;
        await _lock.WaitAsync(cancel);
        try
        {
            _entries[id] = (customer, DateTime.UtcNow + s_lifetime);
        }
        finally
        {
            _lock.Release();
        }
        return customer;
    }

    public void Dispose() => _lock.Dispose();
}
