using System.Globalization;
using Backoffice;
using Backoffice.Messages;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quartz;

// A Generic Host worker: a message bus (MassTransit, in-memory transport) with four consumers and a job scheduler
// (Quartz) with two jobs, set up as their docs show. `dotnet Backoffice.dll [all|healthy]`: three rounds of a price quote (an
// async consumer), a nightly summary (an async job) and an audit event whose consumer throws (MassTransit catches it
// and moves the message to its error queue); and ("all") the seeded bugs (// @tags): a synchronous consumer that
// computes, an async consumer that blocks on `.Result` and lets a failing task go, a synchronous job that sleeps, an
// async consumer that sleeps before its first await.
// Each message and job runs alone (the driver waits for it to end), then the host stops: "jobs finished".
var mode = args.Length > 0 ? args[0] : "all";
var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(args); // MassTransit has a Host too
builder.Logging.SetMinimumLevel(LogLevel.None);
builder.Services.AddSingleton<Inventory>();
builder.Services.AddMassTransit(x =>
{
    x.AddConsumer<ThumbnailConsumer>(); // @jobs.thumbnail.register
    x.AddConsumer<OrderPlacedConsumer>(); // @jobs.order.register
    x.AddConsumer<PriceQuoteConsumer>();
    x.AddConsumer<AuditConsumer>();
    x.AddConsumer<InvoiceConsumer>(); // @jobs.invoice.register
    x.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
});
builder.Services.AddQuartz(q =>
{
    q.AddJob<CleanupJob>(j => j.WithIdentity(CleanupJob.Key).StoreDurably()); // @jobs.cleanup.register
    q.AddJob<SummaryJob>(j => j.WithIdentity(SummaryJob.Key).StoreDurably());
});
builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
using var host = builder.Build();
await host.StartAsync();
Console.WriteLine($"started {Environment.ProcessId} {mode}");

var bus = host.Services.GetRequiredService<IBus>();
var scheduler = await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
for (var round = 0; round < 3; round++)
{
    await Progress.Run(() => bus.Publish(new PriceQuote(round)));
    await Progress.Run(() => bus.Publish(new AuditEvent(round)));
    await Progress.Run(async () => await scheduler.TriggerJob(SummaryJob.Key));
    if (mode != "all")
        continue;
    await Progress.Run(() => bus.Publish(new MakeThumbnail(round)));
    await Progress.Run(() => bus.Publish(new OrderPlaced(round)));
    await Progress.Run(async () => await scheduler.TriggerJob(CleanupJob.Key));
    await Progress.Run(() => bus.Publish(new SendInvoice(round)));
}
await Task.Delay(300); // the last notification's failure, 20 ms after its order
await host.StopAsync();
Console.WriteLine("jobs finished");

namespace Backoffice
{
    /// <summary>One message or job at a time: the driver starts it and waits until its handler says it ended.</summary>
    public static class Progress
    {
        private static readonly SemaphoreSlim s_ended = new(0);

        public static async Task Run(Func<Task> start)
        {
            await start();
            if (!await s_ended.WaitAsync(TimeSpan.FromSeconds(30)))
                throw new TimeoutException("a handler did not end");
        }

        public static void Ended() => s_ended.Release();
    }

    public class Inventory
    {
        public async Task<int> ReserveAsync(int order)
        {
            await Task.Delay(150);
            return order;
        }

        public async Task NotifyWarehouseAsync(int order)
        {
            await Task.Delay(20);
            throw new InvalidOperationException($"warehouse rejected order {order}"); // @jobs.notify.throw
        }

        public async Task<decimal> QuoteAsync(int item)
        {
            await Task.Delay(30);
            return 9.5m + item;
        }
    }

    // A synchronous consumer that renders a thumbnail on the bus's thread: 300 ms of this thread's time on a CPU, however
    // busy the machine (the process's CPU time would count the other consumers running meanwhile: 1 report of 3, at load 16).
    public class ThumbnailConsumer : IConsumer<MakeThumbnail>
    {
        public Task Consume(ConsumeContext<MakeThumbnail> context)
        { // @jobs.thumbnail.start
            var pixels = new byte[4096]; // @jobs.thumbnail.first
            var spent = long.Parse(File.ReadAllText(Schedstat).Split(' ')[0], CultureInfo.InvariantCulture);
            while (long.Parse(File.ReadAllText(Schedstat).Split(' ')[0], CultureInfo.InvariantCulture) - spent < 300_000_000)
                pixels = System.Security.Cryptography.SHA256.HashData(pixels); // @jobs.thumbnail.hash
            Progress.Ended();
            return Task.CompletedTask; // @jobs.thumbnail.return
        } // @jobs.thumbnail.end

        // The calling thread's scheduler figures (Linux): its time on a CPU first, in ns. Read in the loop, not through a
        // method of the app's: the loop's one call of the app's would be named instead of the hashing.
        private const string Schedstat = "/proc/thread-self/schedstat";
    }

    // An async consumer that blocks on its reservation, then lets the warehouse notification go unobserved.
    public class OrderPlacedConsumer(Inventory inventory) : IConsumer<OrderPlaced>
    {
        public async Task Consume(ConsumeContext<OrderPlaced> context)
        {
            var reserved = inventory.ReserveAsync(context.Message.Id).Result; // @jobs.order.result
            _ = inventory.NotifyWarehouseAsync(reserved); // @jobs.order.forget
            await context.Publish(new OrderReserved(reserved));
            Progress.Ended();
        }
    }

    public class PriceQuoteConsumer(Inventory inventory) : IConsumer<PriceQuote>
    {
        public async Task Consume(ConsumeContext<PriceQuote> context)
        {
            var price = await inventory.QuoteAsync(context.Message.Item);
            Console.WriteLine($"quote {context.Message.Item} {price}");
            Progress.Ended();
        }
    }

    // Throws; MassTransit catches it, retries nothing (none configured) and moves the message to the error queue: observed.
    public class AuditConsumer : IConsumer<AuditEvent>
    {
        public async Task Consume(ConsumeContext<AuditEvent> context)
        {
            await Task.Delay(10);
            try
            {
                throw new InvalidOperationException($"audit {context.Message.Id} rejected");
            }
            finally
            {
                Progress.Ended();
            }
        }
    }

    // A synchronous job: Quartz runs it on a thread-pool thread (Task.Run) and it sleeps there.
    public class CleanupJob : IJob
    {
        public static readonly JobKey Key = new("cleanup");

        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
        { // @jobs.cleanup.start
            Thread.Sleep(200); // @jobs.cleanup.sleep
            Progress.Ended();
            return ValueTask.CompletedTask; // @jobs.cleanup.return
        } // @jobs.cleanup.end
    }

    // An async consumer whose first step blocks: a synchronous back-off on the bus's thread before its first await, which
    // parks (its first step ends there, and the rest of it runs on another thread).
    public class InvoiceConsumer : IConsumer<SendInvoice>
    {
        public async Task Consume(ConsumeContext<SendInvoice> context)
        { // @jobs.invoice.start
            Thread.Sleep(200); // @jobs.invoice.sleep
            await Task.Delay(20); // @jobs.invoice.await
            Progress.Ended();
        }
    }

    public class SummaryJob(Inventory inventory) : IJob
    {
        public static readonly JobKey Key = new("summary");

        public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
        {
            var total = await inventory.QuoteAsync(1) + await inventory.QuoteAsync(2);
            Console.WriteLine($"summary {total}");
            Progress.Ended();
        }
    }
}

namespace Backoffice.Messages
{
    public record MakeThumbnail(int Id);
    public record OrderPlaced(int Id);
    public record OrderReserved(int Id);
    public record PriceQuote(int Item);
    public record AuditEvent(int Id);
    public record SendInvoice(int Id);
}
