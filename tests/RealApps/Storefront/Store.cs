using Dapper;
using Npgsql;
using StackExchange.Redis;

namespace Storefront;

internal sealed record Product(int Id, string Name, decimal Price);

/// <summary>PostgreSQL (STORE_PG) through Npgsql and Dapper, Redis (STORE_REDIS) through StackExchange.Redis.</summary>
internal sealed class Store(NpgsqlDataSource postgres, ConnectionMultiplexer redis)
{
    public IDatabase Cache => redis.GetDatabase();

    public static async Task<Store> ConnectAsync()
    {
        var pg = Environment.GetEnvironmentVariable("STORE_PG") ?? throw new InvalidOperationException("STORE_PG is not set");
        var endpoint = Environment.GetEnvironmentVariable("STORE_REDIS") ?? throw new InvalidOperationException("STORE_REDIS is not set");
        var postgres = NpgsqlDataSource.Create(pg);
        var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { endpoint }, AbortOnConnectFail = true, AllowAdmin = true });
        await redis.GetDatabase().ExecuteAsync("FLUSHDB");
        return new Store(postgres, redis);
    }

    /// <summary>A product row, as a query that takes the server a few milliseconds (pg_sleep: a real wait, every time).</summary>
    public async Task<Product> LoadAsync(int id)
    {
        using var call = Calls.Enter("Store.LoadAsync(int)");
        await using var connection = await postgres.OpenConnectionAsync();
        return await connection.QuerySingleAsync<Product>(
            "select @id as Id, 'product ' || @id as Name, (@id * 1.5)::numeric as Price from pg_sleep(0.01)", new { id });
    }

    public async Task<decimal> LoadPriceAsync(int id)
    {
        using var call = Calls.Enter("Store.LoadPriceAsync(int)");
        await using var connection = await postgres.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<decimal>("select (@id * 1.5)::numeric from pg_sleep(0.005)", new { id });
    }
}
