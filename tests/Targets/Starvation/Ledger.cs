namespace Starvation;

/// <summary>
/// Orders that post to a ledger guarded by a lock: a month-end close holds it for a long time (it sleeps inside), so
/// every order's work item blocks entering it, on a pool thread, and the pool starves. <c>lock</c>: a monitor
/// (<c>lock (obj)</c>); <c>semaphore</c>: a <see cref="SemaphoreSlim"/> taken with <c>Wait()</c>.
/// </summary>
internal static class Ledger
{
    private static readonly object s_book = new();
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    public static void Close(bool semaphore)
    {
        if (semaphore)
        {
            s_gate.Wait();
            try
            {
                Thread.Sleep(Timeout.Infinite); // @ledger.close.gate
            }
            finally
            {
                s_gate.Release();
            }
        }
        else
        {
            lock (s_book)
                Thread.Sleep(Timeout.Infinite); // @ledger.close.book
        }
    }

    public static void Load(bool semaphore)
    {
        var id = 0;
        while (true)
        {
            for (var i = 0; i < 16; i++)
            {
                var order = ++id;
                ThreadPool.QueueUserWorkItem(_ =>
                {
                    if (semaphore)
                        Settle(order);
                    else
                        Post(order);
                });
            }
            Thread.Sleep(50);
        }
    }

    private static int s_posted;

    private static void Post(int order)
    {
        lock (s_book) // @ledger.post
            s_posted += order;
    }

    private static void Settle(int order)
    {
        s_gate.Wait(); // @ledger.settle
        try
        {
            s_posted += order;
        }
        finally
        {
            s_gate.Release();
        }
    }
}
