namespace Pipelines;

/// <summary>
/// A summary printed from a worker thread, which waits for the count with `.Result` inside its argument (seeded bug:
/// a blocking wait on a thread-pool thread).
/// </summary>
internal static class Summary
{
    public static Task PrintAsync() => Task.Run(() =>
    {
        var totals = CountAsync();
        Console.WriteLine($"sensors {totals.Result.Count}"); // @pipe.summary.wait
    });

    private static async Task<Dictionary<int, double>> CountAsync()
    {
        await Task.Delay(300);
        return new Dictionary<int, double> { [1] = 1.5, [2] = 3.0 };
    }
}
