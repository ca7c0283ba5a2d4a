using System.Threading.Channels;

namespace Samples;

internal static class Healthy
{
    // What healthy async tests do: fan out and join, hop to the pool, use a timer and dispose it, drain a channel.
    public static async Task WorkAsync(int n)
    {
        var channel = Channel.CreateBounded<int>(4);
        var consumer = Task.Run(async () =>
        {
            var sum = 0;
            await foreach (var item in channel.Reader.ReadAllAsync())
                sum += item;
            return sum;
        });
        for (var i = 0; i < 8; i++)
            await channel.Writer.WriteAsync(i);
        channel.Writer.Complete();
        var ticks = 0;
        await using (new Timer(_ => Interlocked.Increment(ref ticks), null, 1, 1))
            await Task.WhenAll(Task.Delay(n % 7), Task.Run(() => Thread.SpinWait(1000)), YieldAsync());
        if (await consumer != 28)
            throw new InvalidOperationException("lost items");
    }

    private static async Task YieldAsync() => await Task.Yield();
}
