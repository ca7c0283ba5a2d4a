using System.Diagnostics;
using AsyncLens;

// Profiled [hook | inprocess FORMAT | early | serve | attach]: async methods whose times are known by construction.
//   hook       the workload alone (asynclens profile -- Profiled.dll hook profiles it from outside the code)
//   inprocess  AsyncProfiler.Start(), the workload, Stop(), the profile written to stdout in FORMAT
//   early      exits with code 3 after 0.3 s (for --duration 10s: a program that ends early)
//   serve      the workload, then waits forever (for --duration: asynclens ends it)
//   attach     for asynclens profile --pid: prints "ready PID", runs the workload (and the twins) at a line on stdin,
//              prints "done", and exits at the next line (or at the end of stdin). AsyncLens is never loaded in it.
var mode = args.Length > 0 ? args[0] : "hook"; // @profiled.main
switch (mode)
{
    case "inprocess":
        await InProcess.ProfileAsync(args.Length > 1 ? args[1] : "Text");
        return 0;
    case "attach":
        Console.WriteLine($"ready {Environment.ProcessId}");
        Console.ReadLine();
        await Workload.RunAsync();
        await Twins.First.PingAsync();
        await Twins.Second.PingAsync(10);
        Console.WriteLine("done");
        Console.ReadLine();
        return 0;
    case "early":
        await Task.Delay(300);
        return 3;
    case "serve":
        await Workload.RunAsync();
        Console.WriteLine("served");
        await Task.Delay(Timeout.Infinite);
        return 0;
    default:
        await Workload.RunAsync();
        return 0;
}

// Apart from Main, so that the modes that do not use it never load AsyncLens (the JIT would, compiling Main).
internal static class InProcess
{
    public static async Task ProfileAsync(string format)
    {
        AsyncProfiler.Start();
        await Workload.RunAsync();
        var profile = AsyncProfiler.Stop();
        profile.Write(Console.Out, Enum.Parse<AsyncProfileFormat>(format, ignoreCase: true));
    }
}

internal static class Workload
{
    // 1 call; wall = DelayTenTimesAsync + 4 x SpinAsync + FrameworkAsync (~2.25 s); on-thread ~0 (its steps only await).
    public static async Task RunAsync()
    { // @profiled.run
        await DelayTenTimesAsync();
        for (var i = 0; i < 4; i++)
            await SpinAsync();
        await FrameworkAsync();
    }

    // 1 call; wall 10 x 200 ms = 2.0 s; on-thread ~0.
    public static async Task DelayTenTimesAsync()
    { // @profiled.delay
        for (var i = 0; i < 10; i++)
            await Task.Delay(200);
    }

    // 4 calls; each spins 50 ms on its thread after its first await: on-thread 4 x 50 ms = 0.2 s.
    public static async Task SpinAsync()
    { // @profiled.spin
        await Task.Yield();
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < 50)
        {
        }
    }

    // Awaits the framework's own async methods (File.WriteAllTextAsync / ReadAllTextAsync): folded into this one by default.
    public static async Task FrameworkAsync()
    { // @profiled.framework
        // It waits at least here: a file write handed to a pool thread can be done before its await looks (on a loaded
        // machine, about one run in five on .NET 11), and then this method never waits and no event shows it.
        await Task.Yield();
        var path = Path.Combine(Path.GetTempPath(), $"asynclens-profiled-{Environment.ProcessId}.txt");
        await File.WriteAllTextAsync(path, new string('x', 100_000));
        _ = await File.ReadAllTextAsync(path);
        File.Delete(path);
    }
}

// Two async methods whose state machines share one short name, <PingAsync>d__0 (each is its class's first method):
// the events name a box by that alone, so from outside they cannot be told apart.
internal static class Twins
{
    public static class First
    {
        public static async Task PingAsync() => await Task.Delay(10);
    }

    public static class Second
    {
        public static async Task PingAsync(int ms) => await Task.Delay(ms);
    }
}
