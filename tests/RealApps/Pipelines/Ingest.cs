using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Pipelines;

internal sealed record Reading(int Sensor, double Value);

/// <summary>Parse -> enrich (parallel) -> aggregate, with a timer flushing metrics meanwhile.</summary>
internal static class Ingest
{
    public static async Task RunAsync(int records)
    {
        var parsed = Channel.CreateBounded<Reading>(new BoundedChannelOptions(256) { SingleWriter = true });
        var enriched = Channel.CreateUnbounded<Reading>();
        using var stop = new CancellationTokenSource();
        var metrics = FlushMetricsAsync(stop.Token);

        var produce = ProduceAsync(parsed.Writer, records);
        var enrich = Parallel.ForEachAsync(parsed.Reader.ReadAllAsync(), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (reading, ct) =>
        {
            await Task.Yield();
            await enriched.Writer.WriteAsync(reading with { Value = reading.Value * 1.01 }, ct);
        });
        var close = enrich.ContinueWith(_ => enriched.Writer.Complete(), TaskScheduler.Default);
        var totals = await AggregateAsync(Window(enriched.Reader.ReadAllAsync(), 100));
        await Task.WhenAll(produce, enrich, close);
        stop.Cancel();
        var flushes = await metrics;
        Console.WriteLine($"sensors {totals.Count}, flushes {(flushes > 0 ? "some" : "none")}");
    }

    private static async Task ProduceAsync(ChannelWriter<Reading> writer, int records)
    {
        for (var i = 0; i < records; i++)
        {
            await writer.WriteAsync(new Reading(i % 16, i));
            if (i % 1000 == 0)
                await Task.Delay(1);
        }
        writer.Complete();
    }

    private static async IAsyncEnumerable<List<Reading>> Window(IAsyncEnumerable<Reading> readings, int size, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var window = new List<Reading>(size);
        await foreach (var reading in readings.WithCancellation(cancellationToken))
        {
            window.Add(reading);
            if (window.Count == size)
            {
                yield return window;
                window = new List<Reading>(size);
            }
        }
        if (window.Count > 0)
            yield return window;
    }

    private static async Task<Dictionary<int, double>> AggregateAsync(IAsyncEnumerable<List<Reading>> windows)
    {
        var totals = new Dictionary<int, double>();
        await foreach (var window in windows)
        {
            foreach (var reading in window)
                totals[reading.Sensor] = totals.GetValueOrDefault(reading.Sensor) + reading.Value;
        }
        return totals;
    }

    private static async Task<int> FlushMetricsAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var flushes = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
                flushes++;
        }
        catch (OperationCanceledException)
        {
        }
        return flushes;
    }

    /// <summary>The same stages, parked: consumers on empty channels, a producer on a full one, a timer, workers.</summary>
    public static async Task ParkAsync()
    {
        var empty = Channel.CreateUnbounded<Reading>();
        var full = Channel.CreateBounded<Reading>(1);
        await full.Writer.WriteAsync(new Reading(0, 0));
        using var stop = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, 3).Select(_ => ConsumeAsync(empty.Reader)).ToArray(); // @pipe.parked.consumers
        var producer = full.Writer.WriteAsync(new Reading(1, 1), stop.Token).AsTask(); // @pipe.parked.producer
        var metrics = FlushMetricsAsync(stop.Token);
        var workers = Parallel.ForEachAsync(empty.Reader.ReadAllAsync(), async (r, ct) => await Task.Yield());
        Console.WriteLine($"parked {Environment.ProcessId}");
        await Task.Run(Console.ReadLine);
        stop.Cancel();
        empty.Writer.Complete();
        await Task.WhenAll(consumers);
        await workers;
        await metrics;
        await Task.WhenAny(producer);
    }

    private static async Task<int> ConsumeAsync(ChannelReader<Reading> reader)
    {
        var count = 0;
        await foreach (var reading in reader.ReadAllAsync()) // @pipe.parked.read
            count++;
        return count;
    }
}

/// <summary>Many small tasks, 10,000 at a time, each yielding once: healthy however many there are.</summary>
internal static class Batches
{
    public static async Task<long> YieldAsync(int count)
    {
        long done = 0;
        for (var started = 0; started < count; started += 10_000)
        {
            var batch = new Task<int>[Math.Min(10_000, count - started)];
            for (var i = 0; i < batch.Length; i++)
                batch[i] = StepAsync(started + i);
            foreach (var n in await Task.WhenAll(batch))
                done += n & 1;
        }
        return done;
    }

    private static async Task<int> StepAsync(int i)
    {
        await Task.Yield();
        return i;
    }
}
