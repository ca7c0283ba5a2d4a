// Parks known chains of async work, then dumps them: in code (args: tree|stacks|json|api), or on
// SIGUSR1 (arg: signal, with ASYNCLENS_TASKS=1 or ASYNCLENS_DEBUG=1 and the startup hook), or lets
// asynclens read them from outside (arg: outside; AsyncLens stays off; a line on stdin ends it).
using AsyncLens;
using Chains;

var mode = args.Length > 0 ? args[0] : "tree";
if (mode is not "signal" and not "outside" && !AsyncDebug.IsEnabled)
    AsyncDebug.TrackTasks(dumpOnSignal: false);

var work = Scenario.Start();
await Scenario.ParkedAsync();

switch (mode)
{
    case "outside":
        var holding = Blocking.ServeAsync();
        Blocking.Started.Wait();
        var input = new TaskCompletionSource();
        new Thread(() =>
        {
            Console.In.ReadLine();
            input.SetResult();
        }) { IsBackground = true }.Start();
        Console.WriteLine($"parked {Environment.ProcessId}");
        await input.Task; // @chains.main-outside
        Blocking.Release();
        await holding;
        break;
    case "signal":
        Console.WriteLine($"parked {Environment.ProcessId}");
        await Task.Delay(TimeSpan.FromSeconds(3)); // @chains.main-signal: the test sends SIGUSR1 meanwhile
        break;
    case "api":
        // One line per kind of pending task: method, state, parked line, what it awaits, how many such tasks.
        foreach (var g in AsyncDebug.GetPendingTasks()
            .GroupBy(t => $"{t.Kind} | {t.Method} | {t.State} | {t.ParkedAt?.Line} | {string.Join(", ", t.Awaiting.Select(a => a.Description).Distinct())} | root={t.IsRoot} | awaitedBy={t.AwaitedBy.Count}")
            .OrderBy(g => g.Key, StringComparer.Ordinal))
            Console.WriteLine($"{g.Count()} x {g.Key}");
        break;
    default:
        AsyncDebug.WriteTasks(Console.Out, Enum.Parse<TaskDumpFormat>(mode, ignoreCase: true));
        break;
}
Scenario.Release();
await work;
Console.WriteLine("done");
