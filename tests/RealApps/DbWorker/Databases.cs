using Microsoft.EntityFrameworkCore;
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

/// <summary>EF Core's view of the visits table (Schema.CreateAsync makes it).</summary>
internal sealed class VisitsContext(NpgsqlDataSource postgres) : DbContext
{
    public DbSet<Visit> Visits => Set<Visit>();

    protected override void OnConfiguring(DbContextOptionsBuilder options) => options.UseNpgsql(postgres);

    protected override void OnModelCreating(ModelBuilder model) =>
        model.Entity<Visit>(visit => visit.ToTable("visits").HasNoKey().Property(v => v.Round).HasColumnName("round"));
}

internal sealed class Visit
{
    public int? Round { get; set; }
}
