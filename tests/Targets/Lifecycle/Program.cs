using System.Collections;
using System.Reflection;
using AsyncLens;

var reports = new List<string>();
AsyncDebugOptions Options() => new() { Output = TextWriter.Null, OnReport = r => { lock (reports) reports.Add($"{r.Kind} {r.Method}"); } };

// 1. On, a slow step, off: one report, written before Disable returns.
AsyncDebug.Enable(Options());
await Steps.SlowAsync(150);
AsyncDebug.Disable();
Print("after first run");

// 2. Off in the middle of a long step: reported once (0.3 s so far), and not again after debug mode is back on.
AsyncDebug.Enable(Options());
var longStep = Task.Run(() => Steps.SlowAsync(1500));
await Task.Delay(300);
AsyncDebug.Disable();
AsyncDebug.Enable(Options());
await longStep;
await Task.Delay(500);
AsyncDebug.Disable();
Print("after restart");

// 3. Off means off: the runtime's task registry is switched off and empty.
var flag = (bool)typeof(Task).GetField("s_asyncDebuggingEnabled", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
var tasks = (ICollection?)typeof(Task).GetField("s_currentActiveTasks", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null);
Console.WriteLine($"registry: enabled={flag} tasks={tasks?.Count ?? 0} debug={AsyncDebug.IsEnabled}");

// 4. Bad options are refused at the call, before anything starts.
try
{
    AsyncDebug.Enable(new AsyncDebugOptions { SlowStepThreshold = TimeSpan.Zero });
}
catch (ArgumentOutOfRangeException ex)
{
    Console.WriteLine($"refused: {ex.ParamName}; debug={AsyncDebug.IsEnabled}");
}

void Print(string when)
{
    lock (reports)
        Console.WriteLine($"{when}: [{string.Join(", ", reports)}]");
}

static class Steps
{
    public static async Task SlowAsync(int ms)
    {
        await Task.Yield();
        Thread.Sleep(ms);
    }
}
