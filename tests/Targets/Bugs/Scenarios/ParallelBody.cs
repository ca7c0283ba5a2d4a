using System.Threading.Channels;

namespace Bugs.Scenarios;

/// <summary>
/// The time goes to a <c>Parallel.ForEachAsync</c> body's first step, before its first await: the BCL's worker, resumed
/// when the channel has an item, runs it synchronously (on .NET 11 the worker is a runtime-async method, whose steps
/// raise no TPL event of their own). The report names the body, from its start to its first await. The slow batch is
/// written once the first is imported: it is read on a resume of the worker, not in the worker's first step (a thread
/// pool work item, which no event brackets, on either runtime). Written as soon as the channel was empty, a worker
/// preempted in its first step on a busy machine found it there and ran it in that step (1 run in 240 at load 45).
/// </summary>
public static class ParallelBody
{
    private static readonly SemaphoreSlim s_imported = new(0);

    public static async Task RunAsync()
    {
        var batches = Channel.CreateUnbounded<int>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = 1 };
        var workers = Parallel.ForEachAsync(batches.Reader.ReadAllAsync(), options, ImportAsync); // @parallel.created
        await batches.Writer.WriteAsync(1);
        await s_imported.WaitAsync();
        await batches.Writer.WriteAsync(250);
        batches.Writer.Complete();
        await workers;
    }

    private static async ValueTask ImportAsync(int batch, CancellationToken cancellation)
    { // @parallel.started
        Thread.Sleep(batch); // @parallel.location
        await Task.Delay(batch, cancellation); // @parallel.stopped
        s_imported.Release();
    }
}
