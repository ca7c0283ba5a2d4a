using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace AsyncLens.Tests.Attribution;

// Code the attribution tests read the IL and lines of; it is never run. Lines a test expects carry "// @tag" markers.
#pragma warning disable CA1822, CA1849, CA5394, IDE0060
internal static class Samples
{
    // Two branches, each with a different slow call, then a switch: which branch ran, the IL does not say.
    public static async Task<string> ExportAsync(string mode)
    {
        var rows = await CountAsync(); // @sample.export.resumed
        string body;
        if (mode == "csv")
            body = RenderCsv(rows); // @sample.export.csv
        else
            body = File.ReadAllText(mode); // @sample.export.template
        switch (mode)
        {
            case "csv":
                body += Checksum(body);
                break;
            default:
                body += File.ReadAllText("footer"); // @sample.export.footer
                break;
        }
        return body;
    } // @sample.export.end

    // Main's shape: after its first await, a switch running one of the app's async methods, the scenario asked for.
    public static async Task<int> RunScenarioAsync(string scenario)
    {
        var rows = await CountAsync();
        switch (scenario)
        {
            case "count":
                await CountLoopAsync();
                break;
            case "poll":
                await PollAsync(rows);
                break;
            default:
                await ExportAsync(scenario);
                break;
        }
        return rows;
    }

    // Main's shape with as many scenarios as DbWorker's: the compiler switches on the string's hash, a call to a helper
    // it generates in the app's own assembly (<PrivateImplementationDetails>.ComputeStringHash), on every path.
    public static async Task<int> RunOneOfManyAsync(string scenario)
    {
        var rows = await CountAsync();
        switch (scenario)
        {
            case "healthy":
                await CountLoopAsync();
                break;
            case "busy":
                await PollAsync(rows);
                break;
            case "count-sync":
                rows += await CountRowsAsync(); // @sample.many.count
                break;
            case "ef-sync":
                await ExportAsync(scenario);
                break;
            case "redis-sync":
                await PollTwiceAsync(rows);
                break;
            case "redis-connect":
                await HashAsync([]);
                break;
            case "pg-unobserved":
                await ParseAsync(scenario);
                break;
            case "redis-crash":
                await ResultAsync(Task.FromResult(rows));
                break;
            case "parked":
                await GuardedAsync(scenario);
                break;
        }
        return rows;
    }

    // A blocking call before the branches: on every path, it ran.
    public static async Task<string> LoadThenBranchAsync(string path, bool twice)
    {
        await Task.Yield();
        var text = File.ReadAllText(path); // @sample.load.read
        if (twice)
            text += RenderCsv(text.Length); // @sample.load.branch
        return text;
    }

    // The shape of a loop around an await that completes at once: resumed at the await, it runs the loop's end and
    // comes back to the await; the code before the loop cannot run in that stretch.
    public static async Task CountLoopAsync()
    {
        await PrepareAsync(); // @sample.loop.prepare
        for (var i = 0; i < 3; i++)
            Console.WriteLine($"count {await CountVisitsAsync()}"); // @sample.loop.await
    }

    // A poller's loop over a count whose awaits may all complete at once (a warm pool): then a call runs whole.
    public static async Task CountRowsLoopAsync()
    {
        await PrepareAsync();
        for (var i = 0; i < 3; i++)
            Console.WriteLine($"rows {await CountRowsAsync()}"); // @sample.rows.call
    }

    // Its first await is the framework's: its first step names nothing; then a blocking read.
    public static async Task<int> CountRowsAsync()
    { // @sample.rows.start
        using var stream = new MemoryStream();
        await stream.FlushAsync();
        var text = File.ReadAllText("rows"); // @sample.rows.read
        await stream.FlushAsync();
        return text.Length;
    } // @sample.rows.end

    private static async Task PrepareAsync()
    {
        await Task.Yield();
        Thread.Sleep(10); // @sample.prepare.sleep
    }

    // An async method whose awaits complete at once, then a blocking read: its first step holds the time.
    public static async Task<int> CountVisitsAsync()
    { // @sample.visits.start
        await using var stream = await OpenAsync();
        var text = File.ReadAllText("visits"); // @sample.visits.read
        await stream.FlushAsync(); // @sample.visits.stopped
        return text.Length;
    }

    private static Task<MemoryStream> OpenAsync() => Task.FromResult(new MemoryStream());

    // A call with an async twin, and a loop of the method's own: the time decides which held the thread.
    public static async Task<double> ParseThenSpinAsync(string path, int ms)
    {
        await Task.Yield();
        var limit = File.ReadAllText(path).Length; // @sample.spin.read
        var clock = Stopwatch.StartNew();
        var x = 0.0;
        while (clock.ElapsedMilliseconds < ms + limit) // @sample.spin.loop
            x += Math.Sqrt(x + 1);
        return x;
    }

    // Hashing bytes in a loop: its async twin reads a stream, so this is computing, not I/O.
    public static async Task<string> HashAsync(byte[] data)
    { // @sample.hash.start
        await Task.CompletedTask;
        var digest = Array.Empty<byte>();
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 300)
            digest = SHA256.HashData(data); // @sample.hash.cpu
        return Convert.ToHexString(digest);
    } // @sample.hash.end

    // Parses a small string: Deserialize(string) has no async twin taking a string.
    public static async Task<int> ParseAsync(string json)
    {
        await Task.Yield();
        return JsonSerializer.Deserialize<Dictionary<string, int>>(json)!.Count;
    }

    // A .Result that may or may not have blocked.
    public static async Task<int> ResultAsync(Task<int> pending)
    {
        await Task.Yield();
        var value = pending.Result; // @sample.result.wait
        return value + RenderCsv(value).Length;
    }

    // A short wait on a task (a lookup of 15 ms), then a sleep: the time decides which blocked the stretch.
    public static async Task<int> LookupThenSleepAsync(Task<int> lookup)
    {
        await Task.Yield();
        var value = lookup.Result; // @sample.audit.wait
        Thread.Sleep(200); // @sample.audit.sleep
        return value;
    }

    // A sleep in a try after a call that may throw, whose catch calls a method of the user's.
    public static async Task<int> GuardedAsync(string key)
    {
        await Task.Yield();
        try
        {
            Validate(key);
            Thread.Sleep(200); // @sample.guarded.sleep
            return 1;
        }
        catch (InvalidOperationException)
        {
            return RenderCsv(0).Length;
        }
    }

    private static void Validate(string key) => ArgumentException.ThrowIfNullOrEmpty(key);

    // A sleep inside a branch.
    public static async Task MaybeSleepAsync(bool slow)
    {
        await Task.Yield();
        if (slow)
            Thread.Sleep(300); // @sample.maybe.sleep
    }

    // An ASP.NET Core-like handler: not async, blocking on a task in its last act.
    public static int SyncHandler(Task<int> stock) => stock.Result; // @sample.handler.wait

    // A handler that is not async, doing its I/O with a synchronous API that has an async twin.
    public static string SyncReadHandler(string path) => File.ReadAllText(path); // @sample.handler.read

    // Handlers that are not async, running a query with LINQ's synchronous operators (as over EF Core's DbSet), and
    // the same operators over a list in memory, where there is no query to run.
    public static List<int> QueryHandler(Shelf shelf) => shelf.Orders.Where(o => o > 0).ToList(); // @sample.handler.query

    public static int CountHandler(Shelf shelf) => shelf.Orders.Count(o => o > 0); // @sample.handler.count

    public static List<int> ListHandler(List<int> orders) => orders.Where(o => o > 0).ToList(); // @sample.handler.list

    // A gRPC server-streaming handler whose writes complete at once (the stream has room): one stretch runs all its
    // rounds, each computing a checksum in a loop before its write, a package's async API (an interface of xunit's
    // stands in for gRPC's IServerStreamWriter<T>).
    public static async Task<long> StreamChecksumsAsync(int[] request, Xunit.IAsyncLifetime responses)
    {
        var checksum = 0L;
        for (var round = 0; round < request.Length; round++)
        {
            for (var k = 0; k < request[round]; k++) // @sample.stream.loop
                checksum += k % 7;
            await responses.InitializeAsync();
        }
        return checksum;
    }

    // A report whose awaited count (a library's) may complete at once (then one stretch holds the whole method), then
    // whose rows are read with LINQ's synchronous ToList.
    public static async Task<List<int>> ShelfReportAsync(Shelf shelf, Task<int> count)
    {
        var total = await count;
        var rows = shelf.Orders.Where(o => o < total).ToList(); // @sample.report.query
        return rows;
    }

    // A polling loop resumed after its first await: on every path it asks a trivial method of its own, and on some it
    // calls two async methods of its own, one whose code can block (a synchronous read with an async twin) and one
    // that cannot. A blocked stretch went to the first; one on a CPU could have gone to any.
    public static async Task PollAsync(int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            var pending = await CountAsync(); // @sample.poll.resumed
            if (IsOn("audit") && round == 2)
                Console.WriteLine(await AuditAsync()); // @sample.poll.audit.call
            if (IsOn("summary"))
                Console.WriteLine(await SummaryAsync(pending));
            await Task.Delay(500); // @sample.poll.delay
        }
    }

    // The same with two async methods whose code can block: which one ran, nothing says; the check cannot block.
    public static async Task PollTwiceAsync(int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            var pending = await CountAsync();
            if (IsOn("audit") && round == 2)
                Console.WriteLine(await AuditAsync());
            if (IsOn("archive"))
                Console.WriteLine(await AuditAsync() + pending);
            else
                Console.WriteLine(await CountVisitsAsync());
            await Task.Delay(500);
        }
    }

    private static bool IsOn(string mode) => mode.Length > 5;

    private static async Task<int> AuditAsync()
    {
        await using var stream = await OpenAsync();
        var text = File.ReadAllText("audit"); // @sample.poll.audit
        return text.Length;
    }

    private static async Task<int> SummaryAsync(int pending)
    {
        await Task.Yield();
        return pending * 2;
    }

    // A synchronous library API that waits for a task inside it (a package's: xunit's Assert stands in for one).
    public static void CallsPackage(bool ok) => Xunit.Assert.True(ok); // @sample.package.call

    public static int SendSync(HttpClient client, HttpRequestMessage request) => (int)client.Send(request).StatusCode; // @sample.send

    // A cached value returned at once in one branch, a hashing loop in the other: on a CPU, the loop ran.
    public static async Task<string> HashOrCachedAsync(int n)
    {
        var cached = await LookupAsync(n);
        if (cached is not null)
            return cached;
        var data = new byte[64];
        for (var i = 0; i < n; i++)
            data = SHA256.HashData(data); // @sample.hashloop.call
        return Convert.ToHexString(data);
    }

    // A minimal-API handler's lambda: a label rendered by a method of the app's hashing in a loop, then its first await, a
    // package's async API through its interface (xunit's, standing for Marten's IQuerySession.LoadAsync).
    public static readonly Func<Guid, Xunit.IAsyncLifetime, Task<string>> LabelHandler = async (id, session) =>
    { // @sample.label.start
        var label = RenderLabel(id); // @sample.label.render
        await session.InitializeAsync(); // @sample.label.load
        return label;
    };

    // An endpoint class's HandleAsync (FastEndpoints' shape): a value read through a package's method (xunit's, standing
    // for FastEndpoints' Route<int>), a statement rendered by a method of the app's, then an await that completes at once.
    public static async Task ExportStatementAsync(string account)
    { // @sample.statement.start
        Xunit.Assert.NotNull(account); // @sample.statement.route
        var statement = RenderLabel(Guid.Empty); // @sample.statement.render
        await Task.FromResult(statement);
    } // @sample.statement.end

    private static string RenderLabel(Guid id)
    {
        var data = id.ToByteArray();
        for (var i = 0; i < 400_000; i++)
            data = SHA256.HashData(data);
        return Convert.ToHexString(data);
    }

    // A job's first step: hashing in a loop, then its first await, through a callback (a retry pipeline's lambda).
    public static async Task InvoiceAsync(byte[] data, Func<Task> send)
    {
        for (var i = 0; i < 1000; i++)
            data = SHA256.HashData(data); // @sample.invoice.hash
        await RelayAsync(send); // @sample.invoice.send
    }

    // Awaits a callback and nothing else: its first step names no cause.
    public static async Task RelayAsync(Func<Task> next) => await next();

    private static Task<string?> LookupAsync(int n) => Task.FromResult(n > 0 ? null : "");

    private static Task<int> CountAsync() => Task.FromResult(3);

    private static string RenderCsv(int rows) => new(',', rows);

    private static string Checksum(string body) => body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A source of queries, as an EF Core DbContext with its DbSets.</summary>
internal sealed class Shelf
{
    public IQueryable<int> Orders { get; } = new[] { 1, 2 }.AsQueryable();
}

/// <summary>A query provider's async operators, as EF Core's EntityFrameworkQueryableExtensions.</summary>
public static class ShelfQueries
{
    public static Task<List<T>> ToListAsync<T>(this IQueryable<T> source, CancellationToken cancellationToken = default) => Task.FromResult(source.ToList());

    public static Task<int> CountAsync<T>(this IQueryable<T> source, System.Linq.Expressions.Expression<Func<T, bool>> predicate, CancellationToken cancellationToken = default) =>
        Task.FromResult(source.Count(predicate));
}

/// <summary>A store whose synchronous API extends its asynchronous one, as StackExchange.Redis's IDatabase does.</summary>
internal interface IStoreAsync
{
    Task<string?> GetAsync(string key, int flags = 0);
}

internal interface IStore : IStoreAsync
{
    string? Get(string key, int flags = 0);
}
#pragma warning restore CA1822, CA1849, CA5394, IDE0060
