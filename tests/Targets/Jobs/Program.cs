// The live console's target: a job polling with a cancellation token (the console's cancel reaches it, and it says
// so), and a wait that holds no token (cancel refuses). Prints "ready PID" once both are parked; a line on standard
// input releases the wait and stops the job, and it exits. Arg "in-code": starts the console with AsyncDebug.StartConsole() (otherwise
// ASYNCLENS_CONSOLE=1 and the startup hook do); "flood N": also parks N requests (the console's fuzz and bench);
// "probe": a thread that measures how long it is held up (what a console command pauses the app for).
using AsyncLens;
using Jobs;

if (args is ["in-code", ..])
    Console.Error.WriteLine($"console: {AsyncDebug.StartConsole()}");
var release = new TaskCompletionSource();
using var shutdown = new CancellationTokenSource();
var probe = args.Contains("probe") ? PauseProbe.Start() : null;
new Thread(() =>
{
    // "gap": the longest stall the probe thread saw since the last "gap" (bench/console-pause.sh); anything else releases.
    while (Console.In.ReadLine() is "gap" && probe is not null)
        Console.WriteLine($"gap {probe.TakeMaxGapMs().ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)}");
    release.TrySetResult();
    shutdown.Cancel();
}) { IsBackground = true }.Start();

var flood = args is [.., "flood", var n] ? Service.FloodAsync(int.Parse(n), release.Task) : Task.CompletedTask;
var job = Service.RunJobAsync(shutdown.Token); // @jobs.start-job
var wait = Service.WaitAsync(release.Task);
Console.WriteLine($"ready {Environment.ProcessId}");
await Service.ServeAsync(job, wait); // @jobs.main
await flood;
Console.WriteLine($"done: {Service.Completed} requests answered");
