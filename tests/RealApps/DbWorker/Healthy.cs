using Dapper;
using Npgsql;
using StackExchange.Redis;

namespace DbWorker;

internal sealed record Customer(int Id, string Name, decimal Balance);

/// <summary>What a well-behaved worker does: every database call awaited, some of them concurrently.</summary>
internal static class Healthy
{
    public static async Task RunAsync(Databases db, int rounds = 20)
    {
        await Schema.CreateAsync(db.Postgres);
        for (var round = 0; round < rounds; round++)
        {
            var customers = await LoadCustomersAsync(db.Postgres, round % 20);
            await Task.WhenAll(customers.Select(c => CacheCustomerAsync(db.Cache, c)));
            var cached = await Task.WhenAll(customers.Select(c => db.Cache.StringGetAsync($"customer:{c.Id}")));
            if (cached.Any(v => v.IsNull))
                throw new InvalidOperationException("a customer was not cached");
            await RecordVisitAsync(db.Postgres, round % 20);
            await foreach (var id in StreamIdsAsync(db.Postgres, 50))
                await db.Cache.SetAddAsync("seen", id);
        }
        await using var connection = await db.Postgres.OpenConnectionAsync();
        var visits = await connection.ExecuteScalarAsync<long>("select count(*) from visits");
        Console.WriteLine($"visits {visits}");
    }

    /// <summary>
    /// The healthy rounds, and beside them a stream of readings cached in batches of 64 writes in flight at once (many
    /// calls, awaited together, as StackExchange.Redis is meant to be used): at any moment dozens of replies are pending,
    /// each on a TaskCompletionSource of the library's, none for long.
    /// </summary>
    public static async Task BusyAsync(Databases db, int rounds)
    {
        using var stop = new CancellationTokenSource();
        var readings = CacheReadingsAsync(db.Cache, stop.Token);
        try
        {
            await RunAsync(db, rounds);
        }
        finally
        {
            await stop.CancelAsync();
            await readings;
        }
    }

    private static async Task CacheReadingsAsync(IDatabase cache, CancellationToken stop)
    {
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
            await Task.WhenAll(Enumerable.Range(0, 64).Select(sensor => CacheReadingAsync(cache, sensor, batch)));
    }

    private static async Task CacheReadingAsync(IDatabase cache, int sensor, int batch) =>
        await cache.StringSetAsync($"reading:{sensor}", batch, TimeSpan.FromMinutes(1));

    private static async Task<List<Customer>> LoadCustomersAsync(NpgsqlDataSource postgres, int round)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        var rows = await connection.QueryAsync<Customer>(
            "select id as Id, name as Name, balance as Balance from customers where id % 20 = @round", new { round });
        return rows.ToList();
    }

    private static async Task CacheCustomerAsync(IDatabase cache, Customer customer) =>
        await cache.StringSetAsync($"customer:{customer.Id}", customer.Name, TimeSpan.FromMinutes(5));

    private static async Task RecordVisitAsync(NpgsqlDataSource postgres, int round)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("insert into visits(round) values (@round)", new { round }, transaction);
        await transaction.CommitAsync();
    }

    private static async IAsyncEnumerable<long> StreamIdsAsync(NpgsqlDataSource postgres, int count)
    {
        await using var command = postgres.CreateCommand($"select generate_series(1, {count})::bigint");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            yield return reader.GetInt64(0);
    }
}

internal static class Schema
{
    public static async Task CreateAsync(NpgsqlDataSource postgres)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            create table if not exists customers(id int primary key, name text, balance numeric);
            insert into customers select i, 'customer ' || i, i * 1.5 from generate_series(1, 400) i on conflict do nothing;
            create table if not exists visits(round int);
            """);
    }
}
