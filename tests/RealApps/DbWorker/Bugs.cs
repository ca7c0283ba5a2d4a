using Dapper;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using StackExchange.Redis;

namespace DbWorker;

/// <summary>One seeded bug per scenario, at the lines marked "// @tag".</summary>
internal static class Bugs
{
    // The pool is warm, so opening and beginning complete synchronously; then a blocking count (0.3 s). The loop has a
    // poller's shape: a check of its own each round, and an archive pass on some (never here), two more methods of the app's.
    public static async Task CountSyncAsync(Databases db)
    {
        await Schema.CreateAsync(db.Postgres);
        for (var i = 0; i < 3; i++)
        {
            if (Verbose(i))
                Console.WriteLine($"round {i}");
            Console.WriteLine($"count {await CountVisitsAsync(db.Postgres)}"); // @db.count.call
            if (i == 5)
                await ArchiveAsync(db.Postgres);
        }
    }

    private static bool Verbose(int round) => round % 2 == 1;

    private static async Task ArchiveAsync(NpgsqlDataSource postgres)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        await connection.ExecuteAsync("delete from visits where false");
    }

    private static async Task<long> CountVisitsAsync(NpgsqlDataSource postgres)
    { // @db.count.start
        await using var connection = await postgres.OpenConnectionAsync(); // @db.count.open
        await using var transaction = await connection.BeginTransactionAsync();
        var count = connection.ExecuteScalar<long>("select count(*) from visits, pg_sleep(0.3)", transaction: transaction); // @db.count.query
        await transaction.CommitAsync(); // @db.count.stopped
        return count;
    } // @db.count.end

    // EF Core over the same database: a report counts with EF Core's async operator, then runs its query with LINQ's
    // synchronous ToList (0.3 s in the server).
    public static async Task EfSyncAsync(Databases db)
    {
        await Schema.CreateAsync(db.Postgres);
        await using var visits = new VisitsContext(db.Postgres);
        Console.WriteLine($"report {(await VisitReportAsync(visits)).Count} rows"); // @db.ef.call
    }

    private static async Task<List<Visit>> VisitReportAsync(VisitsContext visits)
    {
        var total = await visits.Visits.CountAsync(); // @db.ef.count
        var rows = visits.Visits.FromSqlRaw("select v.* from visits v, pg_sleep(0.3)").ToList(); // @db.ef.query
        Console.WriteLine($"{rows.Count} of {total} visits"); // @db.ef.after
        return rows;
    }

    // A synchronous Redis read inside an async method, while the server holds clients for 0.3 s.
    public static async Task RedisSyncAsync(Databases db)
    {
        await db.Cache.StringSetAsync("profile:42", "Ada");
        Console.WriteLine($"profile {await LoadProfileAsync(db)}"); // @db.redis.call
    }

    private static async Task<string?> LoadProfileAsync(Databases db)
    { // @db.redis.start
        var server = db.Redis.GetServer(db.Redis.GetEndPoints()[0]);
        await server.ExecuteAsync("CLIENT", "PAUSE", "300", "ALL"); // @db.redis.pause
        var profile = db.Cache.StringGet("profile:42"); // @db.redis.get
        await db.Cache.KeyExpireAsync("profile:42", TimeSpan.FromMinutes(1)); // @db.redis.stopped
        return profile;
    }

    // A second connection opened with the synchronous API while the server holds clients for 0.3 s: the library waits
    // inside Connect for its own connect task.
    public static async Task RedisConnectSyncAsync(Databases db)
    {
        var server = db.Redis.GetServer(db.Redis.GetEndPoints()[0]);
        await server.ExecuteAsync("CLIENT", "PAUSE", "300", "ALL");
        using var second = ConnectionMultiplexer.Connect(db.Redis.Configuration); // @db.connect.sync
        Console.WriteLine($"second connection: {second.IsConnected}");
    }

    // Fire and forget: the update fails (no such table) and nobody looks at why.
    public static async Task PgUnobservedAsync(Databases db)
    {
        _ = MarkShippedAsync(db.Postgres, 7); // @db.unobserved.forget
        await Task.Delay(1500);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        await Task.Delay(1500);
    }

    private static async Task MarkShippedAsync(NpgsqlDataSource postgres, int orderId)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        await connection.ExecuteAsync("update shipments set shipped = true where order_id = @orderId", new { orderId }); // @db.unobserved.query
    }

    // Redis in use, then the worker dies of an unhandled exception: the crash is the only report due.
    public static async Task RedisCrashAsync(Databases db)
    {
        await db.Cache.StringSetAsync("job:1", "running");
        await Task.Delay(200);
        throw new InvalidOperationException("job 1 has no handler"); // @db.crash.throw
    }
}

/// <summary>Work held in flight for an outside read: a long query, a LISTEN, a Redis subscriber.</summary>
internal static class Parked
{
    public static async Task RunAsync(Databases db)
    {
        var query = SleepQueryAsync(db.Postgres);
        var listen = ListenAsync(db.Postgres);
        var jobs = await db.Redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal("jobs"));
        var job = NextJobAsync(jobs);
        Console.WriteLine($"parked {Environment.ProcessId}");
        await Task.Run(Console.ReadLine);
        await jobs.UnsubscribeAsync();
        await Task.WhenAny(Task.WhenAll(query, listen, job), Task.Delay(100));
    }

    private static async Task SleepQueryAsync(NpgsqlDataSource postgres)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        await connection.ExecuteAsync("select pg_sleep(3600)"); // @db.parked.query
    }

    private static async Task ListenAsync(NpgsqlDataSource postgres)
    {
        await using var connection = await postgres.OpenConnectionAsync();
        await connection.ExecuteAsync("listen orders");
        await connection.WaitAsync(); // @db.parked.listen
    }

    private static async Task<string?> NextJobAsync(ChannelMessageQueue jobs)
    {
        var message = await jobs.ReadAsync(); // @db.parked.job
        return message.Message;
    }
}
