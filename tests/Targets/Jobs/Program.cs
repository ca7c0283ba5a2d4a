// The live console's target: a job polling with a cancellation token (the console's cancel reaches it, and it says
// so), and a wait that holds no token (cancel refuses). Prints "ready PID" once both are parked. Lines on standard
// input: "gap" prints the probe's longest stall since the last one; "answer" answers the flood's requests; "decline"
// fails the bill's charge; an empty line (or the end of input) releases the wait and stops the job, and it exits.
// Args: "in-code" starts the console with AsyncDebug.StartConsole() (otherwise ASYNCLENS_CONSOLE=1 and the startup hook
// do); "flood N" also parks N requests (the fuzz test, the bench); "probe" starts a thread that measures how long it is
// held up (what a console command pauses the app for, bench/console-pause.sh); "bill" parks a charge that "decline" fails;
// "starve" blocks every thread-pool worker on a task until the release, with a work item queued (prints "starving N");
// "crunch" runs 20 steps of 10 ms of work, then parks until the release (prints "crunched" once parked); "timeout" first
// runs a fetch that HttpClient's timeout cancels and an export a CancelAfter deadline cancels (Timeouts.cs).
using AsyncLens;
using Jobs;

if (args.Contains("in-code"))
    Console.Error.WriteLine($"console: {AsyncDebug.StartConsole()}");
var release = new TaskCompletionSource();
var answer = new TaskCompletionSource();
var declined = new TaskCompletionSource();
var shutdown = new CancellationTokenSource(); // never disposed: the input thread may cancel it as Main ends
var probe = args.Contains("probe") ? PauseProbe.Start() : null;
new Thread(() =>
{
    while (Console.In.ReadLine() is { Length: > 0 } line)
    {
        if (line == "gap" && probe is not null)
            Console.WriteLine($"gap {probe.TakeMaxGapMs().ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)}");
        else if (line == "answer")
            answer.TrySetResult();
        else if (line == "decline")
            declined.TrySetException(new InvalidOperationException("card declined for order 7"));
    }
    Starve.Stop();
    shutdown.Cancel();
    answer.TrySetResult();
    release.TrySetResult();
}) { IsBackground = true }.Start();

if (args.Contains("timeout"))
    await Timeouts.RunAsync(); // @jobs.timeouts
var floodAt = Array.IndexOf(args, "flood");
var flood = floodAt >= 0 ? Service.FloodAsync(int.Parse(args[floodAt + 1]), answer.Task) : Task.CompletedTask;
var bill = args.Contains("bill") ? Service.BillAsync(declined.Task) : Task.CompletedTask;
var job = Service.RunJobAsync(shutdown.Token); // @jobs.start-job
var wait = Service.WaitAsync(release.Task);
var crunch = args.Contains("crunch") ? Service.CrunchAsync(release.Task) : Task.CompletedTask;
if (args.Contains("crunch"))
{
    while (!Service.Crunched)
        Thread.Sleep(20);
    Console.WriteLine("crunched");
}
if (args.Contains("starve"))
    Console.WriteLine($"starving {Starve.Start(release.Task)}");
Console.WriteLine($"ready {Environment.ProcessId}");
await Service.ServeAsync(job, wait); // @jobs.main
await flood;
await bill;
await crunch;
Console.WriteLine($"done: {Service.Completed} requests answered");
