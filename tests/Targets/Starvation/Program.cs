// Starvation: a little order service under load, for asynclens watch. It prints "ready PID", then waits for a line on
// stdin (so that a watcher can attach first); then a load of 16 orders every 50 ms, from a thread outside the pool:
//   starve   each order totals its prices with .Result on an async call: the pool's threads block, the pool starves
//   healthy  the same orders awaited: nothing blocks
//   lock     each order posts to a ledger under `lock`, which a month-end close (a thread of its own) holds while it sleeps
//   semaphore the same with a SemaphoreSlim taken with Wait()
// It prints "loading" when the load starts, and runs until killed or until a second line on stdin.
using Starvation;

var mode = args.Length > 0 ? args[0] : "";
if (mode is not ("starve" or "healthy" or "lock" or "semaphore"))
{
    Console.Error.WriteLine("usage: Starvation starve|healthy|lock|semaphore");
    return 2;
}
Console.WriteLine($"ready {Environment.ProcessId}");
Console.ReadLine();
if (mode is "lock" or "semaphore")
{
    var close = new Thread(() => Ledger.Close(mode == "semaphore")) { IsBackground = true, Name = "month-end close" };
    close.Start();
    Thread.Sleep(100); // the close holds the ledger before the first order comes
}
var load = mode is "lock" or "semaphore"
    ? new Thread(() => Ledger.Load(mode == "semaphore")) { IsBackground = true, Name = "load" }
    : new Thread(() => Orders.Load(mode == "starve")) { IsBackground = true, Name = "load" };
load.Start();
Console.WriteLine("loading");
Console.ReadLine();
return 0;
