using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace ShopApi;

/// <summary>Handlers with seeded bugs: work that holds a Kestrel thread.</summary>
internal static class Reports
{
    private static readonly byte[] s_catalog = RandomNumberGenerator.GetBytes(1 << 20);

    // CPU-bound hashing on the request thread; its only await completes synchronously (a warm cache).
    public static async Task<string> HashCatalogAsync(int kb, CatalogCache cache)
    { // @shop.hash.start
        var data = await cache.GetAsync(kb); // @shop.hash.first
        var digest = Array.Empty<byte>();
        var spent = Environment.CpuUsage.TotalTime; // the process's CPU time: 300 ms of computing, however busy the machine
        while ((Environment.CpuUsage.TotalTime - spent).TotalMilliseconds < 300)
            digest = SHA256.HashData(data); // @shop.hash.cpu
        return Convert.ToHexString(digest);
    } // @shop.hash.end

    // Parses its options (quickly), then spins in a loop of its own for the time asked.
    public static async Task<string> SpinAsync(int ms, InventoryClient inventory)
    { // @shop.spin.start
        var available = await inventory.GetStockAsync(7, delayMs: 20); // @shop.spin.resumed
        var options = JsonSerializer.Deserialize<Dictionary<string, int>>("""{"rounds": 3}""")!;
        var spent = Environment.CpuUsage.TotalTime;
        var x = 0.0;
        while ((Environment.CpuUsage.TotalTime - spent).TotalMilliseconds < ms) // @shop.spin.loop
            x += Math.Sqrt(x + options["rounds"] + available); // @shop.spin.body
        return x.ToString("F0", System.Globalization.CultureInfo.InvariantCulture);
    } // @shop.spin.end

    // Compound interest over a table of rates, for the time asked, on the request thread: Math.Pow and the remainder
    // of doubles run in the C library's libm, outside managed code.
    public static string InterestTable(int ms, CancellationToken aborted)
    {
        var clock = Stopwatch.StartNew();
        var total = 0.0;
        while (clock.ElapsedMilliseconds < ms && !aborted.IsCancellationRequested)
        {
            for (var rate = 1; rate <= 1000; rate++) total += Math.Pow(1 + rate / 1e4, 30) % 1.0; // @shop.interest.pow
        }
        return total.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
    }

    // Two branches with different slow calls: only the branch that ran may be named.
    public static async Task<string> ExportAsync(string mode, InventoryClient inventory)
    {
        var available = await inventory.GetStockAsync(3); // @shop.export.resumed
        string body;
        if (mode == "csv")
            body = Exporter.RenderCsv(available); // @shop.export.csv
        else
            body = File.ReadAllText(Exporter.TemplatePath(mode)); // @shop.export.template
        switch (mode)
        {
            case "csv":
                body += Exporter.Checksum(body); // @shop.export.checksum
                break;
            default:
                body += File.ReadAllText(Exporter.TemplatePath("footer")); // @shop.export.footer
                break;
        }
        return $"{mode}: {body.Length} characters";
    } // @shop.export.end
}

internal static class Exporter
{
    public static string RenderCsv(int rows)
    {
        var spent = Environment.CpuUsage.TotalTime;
        var text = new System.Text.StringBuilder();
        while ((Environment.CpuUsage.TotalTime - spent).TotalMilliseconds < 300)
        {
            text.Clear();
            for (var i = 0; i < 1000; i++)
                text.Append(i).Append(',').Append(rows).Append('\n');
        }
        return text.ToString();
    }

    public static string Checksum(string body) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(body)))[..8];

    public static string TemplatePath(string name) => Path.Combine(AppContext.BaseDirectory, name + ".template");
}

/// <summary>The catalog bytes, kept in memory: a ValueTask that completes synchronously once warm.</summary>
internal sealed class CatalogCache
{
    private readonly Dictionary<int, byte[]> _slices = [];

    public ValueTask<byte[]> GetAsync(int kb)
    {
        lock (_slices)
        {
            if (!_slices.TryGetValue(kb, out var slice))
                _slices[kb] = slice = RandomNumberGenerator.GetBytes(Math.Clamp(kb, 1, 4096) * 1024);
            return ValueTask.FromResult(slice);
        }
    }
}

/// <summary>A search index rebuilt in the background; this one is read-only, so the rebuild fails.</summary>
internal sealed class SearchIndex
{
    public async Task ReindexAsync()
    {
        await Task.Delay(20);
        throw new InvalidOperationException("the search index is read-only"); // @shop.reindex.throw
    }
}
