// Billing jobs run by a Hangfire server in the process (in-memory storage, one worker). Healthy: a synchronous job that blocks
// (Hangfire's worker runs it on a thread of its own: blocking is its job) and an async job that only awaits. Seeded: an
// invoice job computing hashes (0.3-0.4 s) before its first await, which goes through Polly's retry pipeline (so the park
// makes Polly's boxes and the job lambda's between the job's and the wait).
using System.Security.Cryptography;
using Hangfire;
using Hangfire.InMemory;
using Polly;
using Polly.Retry;

GlobalConfiguration.Configuration.UseInMemoryStorage(new InMemoryStorageOptions());
using (var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = 1, ServerCheckInterval = TimeSpan.FromSeconds(5) }))
{
    BackgroundJob.Enqueue<ArchiveJob>(j => j.Run(3));
    BackgroundJob.Enqueue<ReminderJob>(j => j.SendAsync(3));
    BackgroundJob.Enqueue<InvoiceJob>(j => j.RunAsync(3)); // @billing.enqueue.invoice
    await Done.Invoice.Task.WaitAsync(TimeSpan.FromSeconds(60)); // @billing.main.wait
}
Console.WriteLine("billing done");

public static class Done
{
    public static readonly TaskCompletionSource Invoice = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public class ArchiveJob
{
    public void Run(int id)
    {
        Thread.Sleep(300);
        Console.WriteLine($"archived {id}");
    }
}

public class ReminderJob
{
    public async Task SendAsync(int id)
    {
        await Task.Delay(100);
        Console.WriteLine($"reminded {id}");
    }
}

public class InvoiceJob
{
    private static readonly ResiliencePipeline s_pipeline = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.FromMilliseconds(10) })
        .Build();

    public async Task RunAsync(int id)
    { // @billing.invoice.started
        var digest = BitConverter.GetBytes(id);
        for (var i = 0; i < 800_000; i++)
            digest = SHA256.HashData(digest); // @billing.invoice.hash
        await s_pipeline.ExecuteAsync(async token => await Task.Delay(50, token)); // @billing.invoice.first-await
        Console.WriteLine($"invoiced {id} {digest[0]}");
        Done.Invoice.SetResult();
    }
}
