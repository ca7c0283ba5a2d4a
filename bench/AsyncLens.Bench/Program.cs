using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// <c>AsyncLens.Bench &lt;await|service&gt; &lt;off|on&gt; [--name value ...]</c>: runs one workload in one
/// mode and prints one line <c>RESULT key=value ...</c> on standard output. Reports debug mode made
/// (there should be none: the workloads are healthy) go to standard error and are counted in <c>reports=</c>.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: AsyncLens.Bench <workload> <mode> [options]
          workload  await     2 nested async methods, Task.Yield at the leaf: µs per `await Mid()`
                    work      3 async methods, 2 Task.Yield, SHA-256 of 16 KB in 3 steps: µs per `await Request()`
                    task-run  a delegate task running the await workload's leaf: µs per `await Task.Run(() => Leaf())`
                    service   64 concurrent simulated requests (nested awaits, semaphore, channel, JSON, SHA-256)
                    snapshot  N pending requests (--tasks N), then the task inventory timed: snapshot and dumps
                    capture   the console history's capture at a method's end (debug mode's hot path) alone: µs each
                    forget    fire-and-forget calls discarded, through Forget(), through Forget(handler): µs and bytes per call
                    pending   N pending async methods at once (--tasks N, default 1,000,000): time and memory to
                              create them, memory after idling (--idle-s N, default 5), time to complete them
                    waits     N threads (--threads N, default 2; 0: idle) each waiting 1 ms on an event nobody sets,
                              for --seconds N (default 60): a ROUND line each --round-ms (default 500), for
                              bench/watch-cost.sh (mode off)
                    decode    .NET 11+: 40 buffers of the await loop's async events recorded, then decoded --rounds N
                              times (default 1,500): ns per event; modes reader, async-events, events-only
                    reads     what debug mode on the async events alone reads entering and leaving the app's context,
                              each alone: ns per read (mode off; --reads N, default 20,000,000)
          mode      off       debug mode off
                    on        debug mode on: AsyncDebug.Enable(), reports captured and counted
                    tasks     the task inventory alone: AsyncDebug.TrackTasks()
                    console   the task inventory and the live console's agent, no client: AsyncDebug.StartConsole()
                    on-console            debug mode and the console: every async method's end captured for ps-terminated
                    on-console-nohistory  debug mode and the console with its history off (ASYNCLENS_CONSOLE_HISTORY=0)
                    listener  the runtime's floor: TPL events on with debug mode's keywords, ignored
                    tpl-quiet the runtime's floor: TPL event source on, no event raised (AsyncMethod keyword)
                    async-events          .NET 11+: AsyncProfilerEventSource (every keyword) decoded by AsyncLens's reader
                    async-events-ignored  .NET 11+: the same source's buffers taken and ignored (its floor)
                    async-events@0xMASK, async-events-ignored@0xMASK  the same with those keywords only (hex)
          options   --warmup-ms N  --rounds N  --round-ms N  (both workloads; --warmup-ms is the
                                  most the warm-up may take: it ends once the JIT has settled)
                    --concurrency N  --payload-kb N            (service)
                    --wait-for-attach 1  print "ready PID" and wait for a line on stdin before
                                  anything else (for asynclens profile --pid)
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 2 || args.Length % 2 != 0)
            return Fail("expected a workload, a mode and option pairs");
        var workload = args[0];
        if (workload is not ("await" or "work" or "task-run" or "service" or "snapshot" or "pending" or "forget" or "capture" or "waits" or "decode" or "reads"))
            return Fail($"unknown workload '{workload}'");
        if (workload == "decode")
        {
            if (!DecodeBenchmark.Handles(args[1]) || args.Length > 4 || args.Length == 4 && args[2] != "--rounds" || !int.TryParse(args.Length == 4 ? args[3] : "1500", NumberStyles.Integer, CultureInfo.InvariantCulture, out var passes) || passes <= 0)
                return Fail("decode takes a mode (reader, async-events, events-only) and --rounds N");
            Console.WriteLine(FormattableString.Invariant($"RESULT workload=decode mode={args[1]} {await DecodeBenchmark.RunAsync(args[1], passes)}"));
            return 0;
        }
        if (workload == "reads")
        {
            if (args[1] != "off" || args.Length > 4 || args.Length == 4 && args[2] != "--reads" || !int.TryParse(args.Length == 4 ? args[3] : "20000000", NumberStyles.Integer, CultureInfo.InvariantCulture, out var reads) || reads < 100)
                return Fail("reads takes the mode off and --reads N (at least 100)");
            Console.WriteLine("RESULT workload=reads mode=off " + EntryReadsBenchmark.Run(reads));
            return 0;
        }
        if (args[1] is not ("off" or "on" or "tasks" or "console" or "on-console" or "on-console-nohistory" or "listener" or "tpl-quiet") && !AsyncEventsMode.Handles(args[1]))
            return Fail($"unknown mode '{args[1]}'");
        var on = args[1] is "on" or "on-console" or "on-console-nohistory";
        var options = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 2; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)
                || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 0
            || value == 0 && args[i] != "--threads")
                return Fail($"bad option '{args[i]} {args[i + 1]}'");
            options[args[i][2..]] = value;
        }

        Func<Task<string>> run;
        if (workload == "pending")
        {
            var (count, idle) = (Take(options, "tasks", 1_000_000), Take(options, "idle-s", 5));
            run = () => PendingBenchmark.RunAsync(count, idle);
        }
        else if (workload == "snapshot")
        {
            var (count, rounds) = (Take(options, "tasks", 100_000), Take(options, "rounds", 3));
            run = () => SnapshotBenchmark.RunAsync(count, rounds);
        }
        else if (workload == "waits")
        {
            var (threads, seconds, roundMs) = (Take(options, "threads", 2), Take(options, "seconds", 60), Take(options, "round-ms", 500));
            run = () => WaitsBenchmark.RunAsync(threads, seconds, roundMs);
        }
        else if (workload == "capture")
        {
            var rounds = Take(options, "rounds", 10);
            run = () => CaptureBenchmark.RunAsync(rounds);
        }
        else if (workload == "forget")
        {
            var (warmupMs, rounds, roundMs) = (Take(options, "warmup-ms", 3000), Take(options, "rounds", 10), Take(options, "round-ms", 200));
            run = () => ForgetBenchmark.RunAsync(warmupMs, rounds, roundMs);
        }
        else if (workload is "await" or "work" or "task-run")
        {
            var (warmupMs, rounds, roundMs) = (Take(options, "warmup-ms", 8000), Take(options, "rounds", 10), Take(options, "round-ms", 150));
            run = () => AwaitBenchmark.RunAsync(warmupMs, rounds, roundMs, workload);
        }
        else
        {
            var (warmupMs, rounds, roundMs) = (Take(options, "warmup-ms", 12000), Take(options, "rounds", 5), Take(options, "round-ms", 800));
            var (concurrency, payloadKb) = (Take(options, "concurrency", 64), Take(options, "payload-kb", 16));
            run = () => ServiceBenchmark.RunAsync(warmupMs, rounds, roundMs, concurrency, payloadKb);
        }
        var waitForAttach = Take(options, "wait-for-attach", 0) == 1;
        if (options.Count > 0)
            return Fail("unknown option(s): " + string.Join(", ", options.Keys.Select(k => "--" + k)));
        if (waitForAttach)
        {
            Console.WriteLine(FormattableString.Invariant($"ready {Environment.ProcessId}"));
            Console.ReadLine();
        }

        using var debug = on ? DebugModeCapture.Start() : null;
        using var floor = RuntimeFloor.Start(args[1]);
        using var asyncEvents = AsyncEventsMode.Start(args[1]);
        if (args[1] == "tasks" || workload == "snapshot" && !on)
            AsyncDebug.TrackTasks(dumpOnSignal: false);
        if (args[1] == "on-console-nohistory")
            Environment.SetEnvironmentVariable("ASYNCLENS_CONSOLE_HISTORY", "0");
        if (args[1] is "console" or "on-console" or "on-console-nohistory")
            Console.Error.WriteLine("console: " + AsyncDebug.StartConsole());
        var result = await run();
        Console.Error.WriteLine("runtime: " + System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
        if (on)
            Console.Error.WriteLine("step source: " + AsyncLens.Tracking.StepSource.FromEnvironment(TextWriter.Null));

        // Disable() writes whatever is still queued, so the count below is complete.
        var reports = debug?.Finish() ?? 0;
        if (asyncEvents is not null)
            Console.Error.WriteLine(AsyncEventsMode.Describe(asyncEvents));
        Console.WriteLine(FormattableString.Invariant($"RESULT workload={workload} mode={args[1]} {result} reports={reports}"));
        return 0;
    }

    private static int Take(Dictionary<string, int> options, string name, int fallback) =>
        options.Remove(name, out var value) ? value : fallback;

    private static int Fail(string message)
    {
        Console.Error.WriteLine("AsyncLens.Bench: " + message);
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
