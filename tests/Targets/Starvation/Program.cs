// Starvation: a little order service under load, for asynclens watch. It prints "ready PID", then waits for a line on
// stdin (so that a watcher can attach first); then a load of 16 orders every 50 ms, from a thread outside the pool:
//   starve   each order totals its prices with .Result on an async call: the pool's threads block, the pool starves
//   healthy  the same orders awaited: nothing blocks
// It prints "loading" when the load starts, and runs until killed or until a second line on stdin.
using Starvation;

var mode = args.Length > 0 ? args[0] : "";
if (mode is not ("starve" or "healthy"))
{
    Console.Error.WriteLine("usage: Starvation starve|healthy");
    return 2;
}
Console.WriteLine($"ready {Environment.ProcessId}");
Console.ReadLine();
var load = new Thread(() => Orders.Load(mode == "starve")) { IsBackground = true, Name = "load" };
load.Start();
Console.WriteLine("loading");
Console.ReadLine();
return 0;
