using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>
/// The watchdog's reads of other threads' scheduler figures through handles kept open (<see cref="SchedReaders"/>): the
/// same figures a fresh open reads, one handle per live thread, none kept or tried again for a thread that exited.
/// </summary>
public sealed class SchedReadersTests
{
    [Fact]
    public void A_live_thread_is_read_through_one_handle_kept_open_with_the_figures_a_fresh_open_reads()
    {
        using var started = new ManualResetEventSlim();
        using var stop = new ManualResetEventSlim();
        var osThreadId = 0;
        var thread = new Thread(() =>
        {
            osThreadId = RunQueue.CurrentOsThreadId();
            started.Set();
            stop.WaitHandle.WaitOne();
        });
        thread.Start();
        started.Wait();
        Assert.NotEqual(0, osThreadId);
        Settle(osThreadId);
        using var readers = new SchedReaders();

        var first = readers.Times(osThreadId);
        var fresh = RunQueue.Times(osThreadId);
        var again = readers.Times(osThreadId);

        Assert.Equal(1, readers.Open);
        Assert.True(first.OnCpu >= 0 && first.Waited >= 0, $"{first}");
        // The thread waits on the event: its figures do not move between the reads, whichever way they are read.
        Assert.Equal((fresh.OnCpu, fresh.Waited), (first.OnCpu, first.Waited));
        Assert.Equal((fresh.OnCpu, fresh.Waited), (again.OnCpu, again.Waited));

        stop.Set();
        thread.Join();
        WaitGone(osThreadId);
        Assert.Equal(RunQueue.Unavailable, readers.Times(osThreadId).OnCpu);
        Assert.Equal(0, readers.Open);
        Assert.Equal(RunQueue.Unavailable, readers.Times(osThreadId).OnCpu);
        Assert.Equal(0, readers.Open);
    }

    [Fact]
    public void Handles_of_threads_no_longer_listed_are_closed()
    {
        var self = RunQueue.CurrentOsThreadId();
        using var readers = new SchedReaders();
        Assert.True(readers.Times(self).OnCpu > 0);
        readers.KeepOnly([(ulong)self]);
        Assert.Equal(1, readers.Open);
        readers.KeepOnly([]);
        Assert.Equal(0, readers.Open);
        Assert.True(readers.Times(self, alive: true).OnCpu > 0);
        Assert.Equal(1, readers.Open);
    }

    // Until the thread is blocked in its wait: two reads in a row give the same figures.
    private static void Settle(int osThreadId)
    {
        for (var i = 0; i < 200; i++)
        {
            var (a, b) = (RunQueue.Times(osThreadId), RunQueue.Times(osThreadId));
            if ((a.OnCpu, a.Waited) == (b.OnCpu, b.Waited))
                return;
            Thread.Sleep(10);
        }
        Assert.Fail("the thread did not settle in its wait");
    }

    // A joined thread's /proc entry may outlive Join by a moment (the kernel reaps it after the managed side is done).
    private static void WaitGone(int osThreadId)
    {
        for (var i = 0; i < 200 && Directory.Exists($"/proc/self/task/{osThreadId}"); i++)
            Thread.Sleep(10);
        Assert.False(Directory.Exists($"/proc/self/task/{osThreadId}"));
    }
}
