using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Bench.Remote;

/// <summary>
/// <c>AsyncLens.Bench.Remote [--chains N]</c>: parks N (default 100,000) chains of two async methods,
/// <c>OuterAsync → InnerAsync → await gate</c>, all on one <see cref="TaskCompletionSource"/>, prints
/// <c>ready &lt;pid&gt;</c> and waits on standard input, for <c>asynclens pstree &lt;pid&gt;</c> to read it from
/// outside. It knows nothing of AsyncLens. Standard input, one line at a time:
/// <list type="bullet">
/// <item><c>stall</c>: prints <c>stall_ms=X</c>, the longest a thread of its own sleeping 5 ms at a time woke
/// up late since the previous <c>stall</c> (or since <c>ready</c>): how long the process was stopped, seen from inside.</item>
/// <item>anything else, or the end of input: completes the gate, waits for every chain to finish, prints
/// <c>done N</c> and exits 0.</item>
/// </list>
/// </summary>
internal static class Program
{
    private static long s_maxLateTicks;

    public static int Main(string[] args)
    {
        var chains = 100_000;
        if (args.Length == 2 && args[0] == "--chains"
            && int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            chains = n;
        }
        else if (args.Length != 0)
        {
            Console.Error.WriteLine("usage: AsyncLens.Bench.Remote [--chains N]");
            return 2;
        }

        var gate = new TaskCompletionSource();
        var pending = new Task[chains];
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < chains; i++)
            pending[i] = OuterAsync(gate.Task);
        var created = watch.Elapsed;

        new Thread(WatchStalls) { IsBackground = true, Name = "stall watch" }.Start();
        Console.Error.WriteLine(FormattableString.Invariant(
            $"{chains} chains parked in {created.TotalMilliseconds:F0} ms; managed heap {GC.GetTotalMemory(false) / 1e6:F1} MB"));
        Console.WriteLine($"ready {Environment.ProcessId}");

        while (Console.ReadLine() is "stall")
            Console.WriteLine(FormattableString.Invariant($"stall_ms={Interlocked.Exchange(ref s_maxLateTicks, 0) * 1000.0 / Stopwatch.Frequency:F1}"));

        gate.SetResult();
        Task.WaitAll(pending);
        Console.WriteLine(FormattableString.Invariant($"done {pending.Count(t => t.IsCompletedSuccessfully)}"));
        return 0;
    }

    private static async Task OuterAsync(Task g)
    {
        await InnerAsync(g);
    }

    private static async Task InnerAsync(Task g)
    {
        await g;
    }

    // Sleeps 5 ms at a time and keeps the longest it woke up late: while asynclens has the process stopped,
    // this thread is stopped too, and wakes up that much late.
    private static void WatchStalls()
    {
        var sleep = Stopwatch.Frequency * 5 / 1000;
        var last = Stopwatch.GetTimestamp();
        while (true)
        {
            Thread.Sleep(5);
            var now = Stopwatch.GetTimestamp();
            var late = now - last - sleep;
            last = now;
            long max;
            do
            {
                max = Volatile.Read(ref s_maxLateTicks);
            }
            while (late > max && Interlocked.CompareExchange(ref s_maxLateTicks, late, max) != max);
        }
    }
}
