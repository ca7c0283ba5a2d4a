using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// What <c>Forget()</c> costs: batches of fire-and-forget calls of an async method that suspends once
/// (<c>Task.Yield</c>) and completes, launched three ways, the rounds interleaved: discarded (<c>_ = Leaf()</c>, the
/// bug's shape), <c>Leaf().Forget()</c> and <c>Leaf().Forget(handler)</c>. Each round is timed from the first launch to
/// the last completion; the allocation is the process's, per call.
/// </summary>
internal static class ForgetBenchmark
{
    private const int Batch = 1_000;
    private static readonly string[] s_variants = ["discard", "forget", "forget-handler"];
    private static int s_pending;
    private static TaskCompletionSource? s_done;

    public static async Task<string> RunAsync(int warmupMs, int rounds, int roundMs)
    {
        var warmup = Stopwatch.StartNew();
        while (warmup.ElapsedMilliseconds < warmupMs)
        {
            foreach (var variant in s_variants)
                await RoundAsync(variant, Batch);
        }
        // Size the rounds from one timed batch of the plainest variant.
        var probe = Stopwatch.StartNew();
        await RoundAsync("discard", Batch);
        var batches = Math.Max(1, (int)(roundMs * 1_000 / probe.Elapsed.TotalMicroseconds));
        var us = s_variants.ToDictionary(v => v, _ => new List<double>(rounds));
        var bytes = s_variants.ToDictionary(v => v, _ => new List<double>(rounds));
        for (var round = 0; round < rounds; round++)
        {
            foreach (var variant in round % 2 == 0 ? s_variants : s_variants.Reverse())
            {
                var allocated = GC.GetTotalAllocatedBytes(precise: true);
                var watch = Stopwatch.StartNew();
                for (var b = 0; b < batches; b++)
                    await RoundAsync(variant, Batch);
                var calls = (double)batches * Batch;
                us[variant].Add(watch.Elapsed.TotalMicroseconds / calls);
                bytes[variant].Add((GC.GetTotalAllocatedBytes(precise: true) - allocated) / calls);
            }
        }
        return string.Join(' ', s_variants.Select(v => string.Create(CultureInfo.InvariantCulture,
            $"{v}_us={Stats.Median(us[v]):0.000} {v}_bytes={Stats.Median(bytes[v]):0}")));
    }

    private static Task RoundAsync(string variant, int count)
    {
        s_pending = count;
        s_done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < count; i++)
        {
            switch (variant)
            {
                case "discard":
                    _ = Leaf();
                    break;
                case "forget":
                    Leaf().Forget();
                    break;
                default:
                    Leaf().Forget(static e => Console.Error.WriteLine(e));
                    break;
            }
        }
        return s_done.Task;
    }

    private static async Task Leaf()
    {
        await Task.Yield();
        if (Interlocked.Decrement(ref s_pending) == 0)
            s_done!.SetResult();
    }
}
