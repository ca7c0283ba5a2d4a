using System.Net;
using System.Net.Sockets;

namespace Jobs;

/// <summary>
/// Two calls that end cancelled, each its own way: a report fetched from a server that accepts and never answers, ended by
/// HttpClient's timeout; an export waiting on a token that a CancelAfter deadline cancels. Each says so.
/// </summary>
internal static class Timeouts
{
    public static async Task RunAsync()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // the kernel accepts the connection; nobody ever reads the request
        var url = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/report";
        try
        {
            await FetchReportAsync(url); // @jobs.fetch.call
        }
        catch (TaskCanceledException)
        {
            Console.WriteLine("fetch: timed out");
        }
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        try
        {
            await ExportAsync(deadline.Token); // @jobs.export.call
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("export: cancelled");
        }
    }

    private static async Task<string> FetchReportAsync(string url)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromMilliseconds(300) };
        return await client.GetStringAsync(url); // @jobs.fetch
    }

    private static async Task ExportAsync(CancellationToken cancellation)
    {
        await Task.Delay(Timeout.Infinite, cancellation); // @jobs.export
    }
}
