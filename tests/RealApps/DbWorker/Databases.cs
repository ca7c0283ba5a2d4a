using Npgsql;
using StackExchange.Redis;

namespace DbWorker;

/// <summary>The two servers this worker uses, from DB_PG and DB_REDIS.</summary>
internal sealed class Databases : IAsyncDisposable
{
    private Databases(NpgsqlDataSource postgres, ConnectionMultiplexer redis)
    {
        Postgres = postgres;
        Redis = redis;
    }

    public NpgsqlDataSource Postgres { get; }

    public ConnectionMultiplexer Redis { get; }

    public IDatabase Cache => Redis.GetDatabase();

    public static async Task<Databases> ConnectAsync()
    {
        var pg = Environment.GetEnvironmentVariable("DB_PG") ?? throw new InvalidOperationException("DB_PG is not set");
        var redis = Environment.GetEnvironmentVariable("DB_REDIS") ?? throw new InvalidOperationException("DB_REDIS is not set");
        var dataSource = NpgsqlDataSource.Create(pg);
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { redis },
            AllowAdmin = true,
            AbortOnConnectFail = true,
        });
        return new Databases(dataSource, multiplexer);
    }

    public async ValueTask DisposeAsync()
    {
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
