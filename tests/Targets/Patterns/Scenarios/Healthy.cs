using AsyncLens;

namespace Patterns.Scenarios;

// The same patterns done right: with AsyncLens's helpers, and by hand. Debug mode must say nothing.
public static class Healthy
{
    public static async Task RunAsync()
    {
        // Every exception of Task.WhenAll, with the helper.
        try
        {
            await Task.WhenAll(FailAsync("a", 10), FailAsync("b", 30)).WithAllExceptions();
        }
        catch (AggregateException all)
        {
            Console.WriteLine($"with all exceptions: {all.InnerExceptions.Count}");
        }

        // Every outcome, none thrown.
        var outcomes = await AsyncTasks.WhenAllSettled(FailAsync("c", 10), Task.Delay(5), FailAsync("d", 20));
        Console.WriteLine($"settled: {string.Join(", ", outcomes.Select(o => o.Status))}");

        // By hand: the WhenAll task's Exception holds them all.
        var both = Task.WhenAll(FailAsync("e", 10), FailAsync("f", 20));
        try
        {
            await both;
        }
        catch
        {
            foreach (var e in both.Exception!.InnerExceptions)
                Console.WriteLine($"by hand: {e.Message}");
        }

        // One failure only: the await shows it, nothing is lost.
        try
        {
            await Task.WhenAll(FailAsync("g", 10), Task.Delay(20));
        }
        catch (IOException e)
        {
            Console.WriteLine($"single: {e.Message}");
        }

        // Fire-and-forget with a handler.
        var handled = new TaskCompletionSource();
        FailAsync("h", 10).Forget(e => handled.TrySetResult());
        await handled.Task;
        SaveAsync().Forget();

        // Cleanup after cancellation, with a token of its own.
        using var cts = new CancellationTokenSource();
        try
        {
            cts.Cancel();
            await Task.Delay(1000, cts.Token);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("canceled");
        }
        finally
        {
            await AsyncCleanup.RunAsync(token => Task.Delay(20, token), TimeSpan.FromSeconds(5));
        }
        await Task.Delay(1300); // past the unobserved-exception grace period
    }

    private static async Task FailAsync(string name, int ms)
    {
        await Task.Delay(ms);
        throw new IOException($"{name} failed");
    }

    private static async Task SaveAsync() => await Task.Delay(10);
}
