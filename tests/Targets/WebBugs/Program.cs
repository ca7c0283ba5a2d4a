// WebBugs: a minimal ASP.NET Core app on a free loopback port. Prints "listening PID URL" once Kestrel listens; SIGTERM
// ends it. Each endpoint is one case: healthy, or a handler that blocks before or after its first await.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
var app = builder.Build();
app.MapGet("/healthy", Endpoints.HealthyAsync);
app.MapGet("/orders/{id:int}", Endpoints.GetOrderAsync);
app.MapGet("/report", Endpoints.BuildReportAsync);
await app.StartAsync();
Console.WriteLine($"listening {Environment.ProcessId} {app.Urls.First()}");
await app.WaitForShutdownAsync();

internal static class Endpoints
{
    public static async Task<string> HealthyAsync()
    {
        await Task.Delay(5);
        return "ok";
    }

    // Blocks before its first await: on a request that opened its connection, this runs in no step at all.
    public static async Task<string> GetOrderAsync(int id)
    { // @web.order.started
        Thread.Sleep(300); // @web.order.location
        await Task.Delay(id); // @web.order.stopped
        return $"order {id}";
    }

    // Blocks after an await: an ordinary step.
    public static async Task<string> BuildReportAsync()
    {
        await Task.Delay(5); // @web.report.resumed
        Thread.Sleep(300); // @web.report.location
        return "report";
    } // @web.report.stopped
}
