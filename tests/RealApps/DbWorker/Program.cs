// DbWorker: a background worker over PostgreSQL (Npgsql + Dapper) and Redis (StackExchange.Redis).
//   dotnet DbWorker.dll SCENARIO      with DB_PG (an Npgsql connection string) and DB_REDIS (host:port)
// Scenarios: healthy [ROUNDS] (silent under debug mode; 20 rounds unless said), busy [ROUNDS] (the same beside batches of
// 64 cache writes in flight at once), and one seeded bug each: count-sync, ef-sync, redis-sync, redis-connect,
// pg-unobserved, redis-crash. "parked" holds queries and Redis calls in flight, prints "parked PID", and ends at a line on stdin.
using DbWorker;

var scenario = args.FirstOrDefault() ?? "healthy";
await using var db = await Databases.ConnectAsync();
switch (scenario)
{
    case "healthy":
        await Healthy.RunAsync(db, args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20);
        break;
    case "busy":
        await Healthy.BusyAsync(db, args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20);
        break;
    case "count-sync":
        await Bugs.CountSyncAsync(db);
        break;
    case "ef-sync":
        await Bugs.EfSyncAsync(db);
        break;
    case "redis-sync":
        await Bugs.RedisSyncAsync(db);
        break;
    case "redis-connect":
        await Bugs.RedisConnectSyncAsync(db);
        break;
    case "pg-unobserved":
        await Bugs.PgUnobservedAsync(db);
        break;
    case "redis-crash":
        await Bugs.RedisCrashAsync(db);
        break;
    case "parked":
        await Parked.RunAsync(db);
        break;
    default:
        Console.Error.WriteLine($"unknown scenario '{scenario}'");
        return 2;
}
Console.WriteLine($"{scenario} finished");
return 0;
