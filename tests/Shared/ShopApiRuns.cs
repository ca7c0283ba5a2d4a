using System.Globalization;

namespace AsyncLens.Testing;

/// <summary>
/// tests/RealApps/ShopApi under debug mode (the startup hook): started, sent <c>traffic</c> once it says
/// <c>listening PID URL</c>, then stopped with SIGTERM as a service manager would.
/// </summary>
internal static class ShopApiRuns
{
    public static ProcessResult Run(string configuration, Func<HttpClient, Task> traffic, bool json = true, IDictionary<string, string?>? env = null)
    {
        Task? client = null;
        var variables = new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
            ["ASYNCLENS_DEBUG"] = "1",
            ["ASYNCLENS_FORMAT"] = json ? "json" : "text",
        };
        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
            variables[name] = value;
        var result = ChildProcess.DotnetInteractive([Repo.Program("ShopApi", configuration)], variables, line =>
        {
            if (client is null && line.StartsWith("listening ", StringComparison.Ordinal) && line.Split(' ') is [_, var pid, var url])
                client = Task.Run(() => TrafficThenStop(int.Parse(pid, CultureInfo.InvariantCulture), url, traffic));
        });
        if (client is null)
            throw new InvalidOperationException("ShopApi never said it was listening:\n" + result);
        client.GetAwaiter().GetResult();
        return result;
    }

    private static async Task TrafficThenStop(int pid, string url, Func<HttpClient, Task> traffic)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
            await traffic(http);
        }
        finally
        {
            Signals.Send("-TERM", pid);
        }
    }
}
