using System.Diagnostics;

namespace Bugs.Scenarios;

/// <summary>CPU-bound work written inline, a loop with nothing to call: the report points at the loop.</summary>
public static class BusyLoop
{
    public static async Task RunAsync()
    {
        await ChecksumAsync(new byte[1024]); // @busyloop.created
    }

    private static async Task<long> ChecksumAsync(byte[] data)
    {
        await Task.Yield(); // @busyloop.resumed
        var clock = Stopwatch.StartNew();
        long sum = 0;
        while (clock.ElapsedMilliseconds < 250) // @busyloop.location
            sum += data[sum & 1023] ^ sum;
        return sum;
    } // @busyloop.stopped
}
