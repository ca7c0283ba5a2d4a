using System.Threading.Channels;

namespace Bugs.Scenarios;

/// <summary>
/// The time goes to a <c>Parallel.ForEachAsync</c> body's first step, before its first await: the BCL's worker, resumed
/// when the channel has an item, runs it synchronously (on .NET 11 the worker is a runtime-async method, whose steps
/// raise no TPL event). The report names the body, from its start to its first await.
/// </summary>
public static class ParallelBody
{
    public static async Task RunAsync()
    {
        var batches = Channel.CreateUnbounded<int>();
        var workers = Parallel.ForEachAsync(batches.Reader.ReadAllAsync(), ImportAsync); // @parallel.created
        await Task.Delay(50);
        await batches.Writer.WriteAsync(3);
        batches.Writer.Complete();
        await workers;
    }

    private static async ValueTask ImportAsync(int batch, CancellationToken cancellation)
    { // @parallel.started
        Thread.Sleep(250); // @parallel.location
        await Task.Delay(batch, cancellation); // @parallel.stopped
    }
}
