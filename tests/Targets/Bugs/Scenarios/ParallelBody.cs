using System.Threading.Channels;

namespace Bugs.Scenarios;

/// <summary>
/// The time goes to a <c>Parallel.ForEachAsync</c> body's first step, before its first await: the BCL's worker, resumed
/// when the channel has an item, runs it synchronously (on .NET 11 the worker is a runtime-async method, whose steps
/// raise no TPL event of their own). The report names the body, from its start to its first await. The slow batch is
/// written once the one worker took the first: it is read on a resume of the worker, not in the worker's first step
/// (which no event brackets, on either runtime).
/// </summary>
public static class ParallelBody
{
    public static async Task RunAsync()
    {
        var batches = Channel.CreateUnbounded<int>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = 1 };
        var workers = Parallel.ForEachAsync(batches.Reader.ReadAllAsync(), options, ImportAsync); // @parallel.created
        await batches.Writer.WriteAsync(1);
        while (batches.Reader.Count > 0)
            await Task.Delay(5);
        await batches.Writer.WriteAsync(250);
        batches.Writer.Complete();
        await workers;
    }

    private static async ValueTask ImportAsync(int batch, CancellationToken cancellation)
    { // @parallel.started
        Thread.Sleep(batch); // @parallel.location
        await Task.Delay(batch, cancellation); // @parallel.stopped
    }
}
