using Dapper;
using Npgsql;

namespace ShopApi;

internal sealed record Order(int Id, string Customer, decimal Total);

/// <summary>Orders in PostgreSQL (SHOP_PG), through Npgsql's data source and Dapper.</summary>
internal sealed class OrderStore(NpgsqlDataSource? dataSource)
{
    public static OrderStore FromEnvironment() =>
        new(Environment.GetEnvironmentVariable("SHOP_PG") is { Length: > 0 } pg ? NpgsqlDataSource.Create(pg) : null);

    public NpgsqlDataSource? DataSource => dataSource;

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (dataSource is null)
            throw new InvalidOperationException("no database: set SHOP_PG");
        return await dataSource.OpenConnectionAsync(cancellationToken);
    }
}

internal static class Orders
{
    public static async Task<IResult> GetOrderAsync(int id, OrderStore store, CancellationToken aborted)
    {
        if (store.DataSource is null)
            return Results.StatusCode(503);
        await using var connection = await store.OpenAsync(aborted);
        var order = await connection.QuerySingleOrDefaultAsync<Order>(
            new CommandDefinition("select @id as Id, 'customer ' || @id as Customer, 12.5::numeric as Total", new { id }, cancellationToken: aborted));
        return order is null ? Results.NotFound() : Results.Ok(order);
    }

    // A shipping label hashed on the request thread, then the order read through Npgsql and Dapper, packages' async APIs
    // that park on the database: the time is the hashing's, not the read's.
    public static async Task<IResult> GetLabelAsync(int id, OrderStore store, CancellationToken aborted)
    { // @shop.label.start
        if (store.DataSource is not { } dataSource) // @shop.label.first
            return Results.StatusCode(503);
        var label = Labels.Render(id); // @shop.label.render
        await using var connection = await dataSource.OpenConnectionAsync(aborted); // @shop.label.open
        var order = await connection.QuerySingleOrDefaultAsync<Order>( // @shop.label.read
            new CommandDefinition("select @id as Id, 'customer ' || @id as Customer, 12.5::numeric as Total", new { id }, cancellationToken: aborted));
        return Results.Ok(new { label, order });
    } // @shop.label.end

    // The pooled connection opens synchronously, then the sum runs as a blocking query.
    public static async Task<IResult> GetTotalAsync(int id, OrderStore store, CancellationToken aborted)
    {
        if (store.DataSource is null)
            return Results.StatusCode(503);
        await using var connection = await store.OpenAsync(aborted);
        var total = connection.ExecuteScalar<decimal>("select @id * 2.5 from pg_sleep(0.3)", new { id }); // @shop.total.query
        return Results.Ok(total);
    }
}

internal static class Labels
{
    // 300 ms of the process's CPU time hashing, however busy the machine.
    public static string Render(int id)
    {
        var data = BitConverter.GetBytes(id);
        var spent = Environment.CpuUsage.TotalTime;
        while ((Environment.CpuUsage.TotalTime - spent).TotalMilliseconds < 300)
            data = System.Security.Cryptography.SHA256.HashData(data);
        return Convert.ToHexString(data)[..12];
    }
}
