using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AsyncLens.Bench.Web;

/// <summary>
/// The service layer. <c>GET /orders/{id}</c>: find the order, then its lines and its customer at once
/// (a query and a cache lookup in parallel), then price the lines into a DTO. <c>POST /orders</c>:
/// validate (the customer is looked up through the cache), insert, price. <c>GET /orders/{id}/updates</c>: wait for
/// the order's next change (<see cref="OrderUpdates"/>), then get it.
/// </summary>
internal sealed class OrderService(OrderStore store, CustomerCache customers, Catalog catalog, OrderUpdates updates)
{
    public async Task<OrderDto?> GetAsync(int id, CancellationToken cancel)
    {
        if (id <= 0)
            return null;
        var order = await store.FindOrderAsync(id, cancel);
        if (order is null)
            return null;
        var customer = customers.GetAsync(order.CustomerId, cancel);
        var lines = await store.QueryLinesAsync(order, catalog, cancel);
        return Price(order, await customer ?? throw new InvalidOperationException($"order {id} has no customer"), lines);
    }

    public async Task<(OrderDto? Order, Dictionary<string, string[]>? Errors)> CreateAsync(NewOrderRequest request, CancellationToken cancel)
    {
        var (customer, lines, errors) = await ValidateAsync(request, cancel);
        if (errors.Count > 0)
            return (null, errors);
        var order = await store.InsertOrderAsync(customer!.Id, request.Currency ?? "EUR", lines, request.Note, cancel);
        updates.Publish(order.Id, order.Status);
        var rows = await store.QueryLinesAsync(order, catalog, cancel);
        return (Price(order, customer, rows), null);
    }

    /// <summary>The order once it next changes, or null when it did not within <paramref name="timeout"/>.</summary>
    public async Task<OrderDto?> NextUpdateAsync(int id, TimeSpan timeout, CancellationToken cancel)
    {
        var status = await updates.NextStatusAsync(id, timeout, cancel);
        return status is null ? null : await GetAsync(id, cancel);
    }

    private async Task<(CustomerRecord? Customer, List<OrderLineRecord> Lines, Dictionary<string, string[]> Errors)> ValidateAsync(NewOrderRequest request, CancellationToken cancel)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var lines = new List<OrderLineRecord>();
        if (request.Currency is not (null or "EUR"))
            errors["currency"] = ["only EUR is accepted"];
        if (request.Note is { Length: > 500 })
            errors["note"] = ["at most 500 characters"];
        if (request.Lines is not { Count: > 0 and <= 50 })
        {
            errors["lines"] = ["between 1 and 50 lines"];
        }
        else
        {
            for (var i = 0; i < request.Lines.Count; i++)
            {
                var line = request.Lines[i];
                if (line.Sku is null || !catalog.TryGet(line.Sku, out _))
                    errors[$"lines[{i}].sku"] = [$"unknown product '{line.Sku}'"];
                else if (line.Quantity is < 1 or > 100)
                    errors[$"lines[{i}].quantity"] = ["between 1 and 100"];
                else
                    lines.Add(new OrderLineRecord(line.Sku, line.Quantity));
            }
        }
        var customer = await customers.GetAsync(request.CustomerId, cancel);
        if (customer is null)
            errors["customerId"] = [$"unknown customer {request.CustomerId}"];
        return (customer, lines, errors);
    }

    private static OrderDto Price(OrderRecord order, CustomerRecord customer, List<(OrderLineRecord Line, Product Product)> rows)
    {
        var discountRate = customer.Tier switch { "gold" => 0.10m, "silver" => 0.05m, _ => 0m };
        var lines = new List<OrderLineDto>(rows.Count);
        decimal subtotal = 0, discount = 0, tax = 0;
        foreach (var (line, product) in rows)
        {
            var gross = product.UnitPrice * line.Quantity;
            var lineDiscount = decimal.Round(gross * discountRate, 2, MidpointRounding.ToEven);
            var lineTax = decimal.Round((gross - lineDiscount) * product.TaxRate, 2, MidpointRounding.ToEven);
            var total = gross - lineDiscount + lineTax;
            subtotal += gross;
            discount += lineDiscount;
            tax += lineTax;
            lines.Add(new OrderLineDto(lines.Count + 1, product.Sku, product.Name, product.Category, line.Quantity, product.UnitPrice,
                lineDiscount, lineTax, total, Display(total, order.Currency), $"https://cdn.example.org/products/{product.Sku}.jpg"));
        }
        var orderTotal = subtotal - discount + tax;
        return new OrderDto(order.Id, order.Status, order.PlacedAt, order.Currency,
            new CustomerDto(customer.Id, customer.Name, customer.Email, customer.Tier, customer.Country),
            lines, subtotal, discount, tax, orderTotal, Display(orderTotal, order.Currency), order.Note,
            new LinksDto($"/orders/{order.Id}", $"/customers/{customer.Id}", $"/orders/{order.Id}/invoice"));
    }

    private static string Display(decimal amount, string currency) =>
        string.Create(CultureInfo.InvariantCulture, $"{amount:#,0.00} {currency}");
}

internal sealed record OrderDto(int Id, string Status, DateTimeOffset PlacedAt, string Currency, CustomerDto Customer, List<OrderLineDto> Lines,
    decimal Subtotal, decimal Discount, decimal Tax, decimal Total, string TotalDisplay, string? Note, LinksDto Links);

internal sealed record CustomerDto(int Id, string Name, string Email, string Tier, string Country);

internal sealed record OrderLineDto(int Position, string Sku, string Name, string Category, int Quantity, decimal UnitPrice,
    decimal Discount, decimal Tax, decimal Total, string TotalDisplay, string ImageUrl);

internal sealed record LinksDto(string Self, string Customer, string Invoice);

internal sealed record NewOrderRequest(int CustomerId, string? Currency, List<NewOrderLine>? Lines, string? Note);

internal sealed record NewOrderLine(string? Sku, int Quantity);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OrderDto))]
[JsonSerializable(typeof(NewOrderRequest))]
[JsonSerializable(typeof(StatsSnapshot))]
internal sealed partial class ApiJson : JsonSerializerContext;
