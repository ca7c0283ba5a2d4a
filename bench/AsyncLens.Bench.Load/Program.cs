using System.Globalization;
using System.Net;

namespace AsyncLens.Bench.Load;

/// <summary>
/// <c>AsyncLens.Bench.Load --url http://127.0.0.1:PORT [--concurrency N] [--post-percent N] [--warmup-ms N]
/// [--min-warmup-ms N] [--rounds N] [--round-ms N]</c>: loads the order API until the JIT has settled
/// (in the server and here), then measures, and prints one line <c>RESULT key=value ...</c> on standard
/// output; warm-up slices and rounds go to standard error. Loopback addresses only.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: AsyncLens.Bench.Load --url http://127.0.0.1:PORT [options]
          --concurrency N    client loops, each with its own connection, sending back to back (default 32)
          --post-percent N   share of requests that are POST /orders, the rest GET /orders/{id} (default 20)
          --warmup-ms N      longest warm-up; it ends earlier once the JIT has settled (default 20000)
          --min-warmup-ms N  shortest warm-up (default 3000)
          --rounds N         timed rounds (default 5)
          --round-ms N       length of a timed round (default 1000)
        """;

    public static async Task<int> Main(string[] args)
    {
        Uri? url = null;
        var options = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--url")
            {
                if (!Uri.TryCreate(args[i + 1], UriKind.Absolute, out url) || url.Scheme != Uri.UriSchemeHttp
                    || !IPAddress.TryParse(url.Host, out var address) || !IPAddress.IsLoopback(address))
                {
                    return Fail($"--url must be http://<loopback address>:<port>, not '{args[i + 1]}'");
                }
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal)
                && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                options[args[i][2..]] = value;
            }
            else
            {
                return Fail($"bad option '{args[i]} {args[i + 1]}'");
            }
        }
        if (url is null || args.Length % 2 != 0)
            return Fail("expected --url and option pairs");

        var settings = new LoadSettings(
            Concurrency: Math.Max(1, Take(options, "concurrency", 32)),
            PostPercent: Math.Min(100, Take(options, "post-percent", 20)),
            WarmupMs: Take(options, "warmup-ms", 20_000),
            MinWarmupMs: Take(options, "min-warmup-ms", 3_000),
            Rounds: Math.Max(1, Take(options, "rounds", 5)),
            RoundMs: Math.Max(100, Take(options, "round-ms", 1_000)));
        if (options.Count > 0)
            return Fail("unknown option(s): " + string.Join(", ", options.Keys.Select(k => "--" + k)));

        using var load = new LoadGenerator(url, settings);
        var result = await load.RunAsync();
        Console.WriteLine("RESULT " + result);
        return 0;
    }

    private static int Take(Dictionary<string, int> options, string name, int fallback) =>
        options.Remove(name, out var value) ? value : fallback;

    private static int Fail(string message)
    {
        Console.Error.WriteLine("AsyncLens.Bench.Load: " + message);
        Console.Error.WriteLine(Usage);
        return 2;
    }
}

internal sealed record LoadSettings(int Concurrency, int PostPercent, int WarmupMs, int MinWarmupMs, int Rounds, int RoundMs);
