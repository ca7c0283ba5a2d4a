namespace Bugs.Scenarios;

/// <summary>CPU-bound work written inline, a loop with nothing to call: the report points at the loop.</summary>
public static class BusyLoop
{
    // The rounds that take 250 ms of this thread's CPU time: the same work on an idle machine and a busy one (a loop
    // on the wall clock spins less on a busy machine, where the time it waits for a CPU is not the step's).
    private static long s_rounds;

    public static async Task RunAsync()
    {
        s_rounds = CpuWork.Rounds(TimeSpan.FromMilliseconds(250), rounds => Checksum(new byte[1024], rounds));
        await ChecksumAsync(new byte[1024]); // @busyloop.created
    }

    private static async Task<long> ChecksumAsync(byte[] data)
    {
        await Task.Yield(); // @busyloop.resumed
        long sum = 0;
        for (long i = 0; i < s_rounds; i++) // @busyloop.location
            sum += data[sum & 1023] ^ sum;
        return sum;
    } // @busyloop.stopped

    private static long Checksum(byte[] data, long rounds)
    {
        long sum = 0;
        for (long i = 0; i < rounds; i++)
            sum += data[sum & 1023] ^ sum;
        return sum;
    }
}
