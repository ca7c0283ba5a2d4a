using System.Runtime.CompilerServices;

namespace AsyncLens.Testing;

/// <summary>
/// The whole run (goleak's <c>VerifyTestMain</c>): the exception watch every scope relies on, and, at the end, the work no
/// scope claimed (started with the flow of <see cref="ExecutionContext"/> suppressed, or by no test): still pending, or
/// faulted unobserved.
/// </summary>
public static class AsyncLeakRun
{
    private static readonly ConditionalWeakTable<Exception, AsyncLeakScope> s_thrownIn = new();
    private static readonly List<(Task? Task, Exception Exception)> s_unclaimed = [];
    private static readonly Lock s_starting = new();
    private static volatile bool s_started;
    private static HashSet<int> s_pendingBefore = [];

    /// <summary>Switches on what the scopes need, once per process (the first <see cref="AsyncLeakScope.Begin"/> does).</summary>
    public static void Start()
    {
        if (s_started)
            return;
        // Tests starting in parallel all wait here: a test that ran on before the registry was on would leak unseen.
        lock (s_starting)
        {
            if (s_started)
                return;
            AsyncDebug.TrackTasks(dumpOnSignal: false);
            s_pendingBefore = [.. AsyncDebug.Inventory().RegistryCopy().Select(t => t.Id)];
            AppDomain.CurrentDomain.FirstChanceException += OnFirstChance;
            TaskScheduler.UnobservedTaskException += OnUnobserved;
            s_started = true;
        }
    }

    /// <summary>
    /// At the end of a run: the program's own pending work that no scope claimed and that began after the first scope,
    /// and the unobserved exceptions no scope claimed (after a last collection). Empty when there are none. Each is
    /// returned once: two run-end hooks (NUnit's assembly action and a <c>[SetUpFixture]</c>) do not report it twice.
    /// </summary>
    public static IReadOnlyList<AsyncLeak> FindUnclaimed()
    {
        if (!s_started)
            return [];
        GC.Collect();
        GC.WaitForPendingFinalizers();
        List<(Task?, Exception)> faults;
        lock (s_unclaimed)
        {
            faults = [.. s_unclaimed];
            s_unclaimed.Clear(); // reported once
        }
        return [.. LeakFinder.Unclaimed(s_pendingBefore), .. faults.ConvertAll(f => LeakFinder.Fault(f.Item1, f.Item2))];
    }

    /// <summary>
    /// The run-end check: throws <see cref="AsyncLeakException"/> (its message <see cref="Describe"/>'s text) when
    /// <see cref="FindUnclaimed"/> finds work no test claimed. For a framework's run-end hook; reports once.
    /// </summary>
    public static void Verify()
    {
        if (FindUnclaimed() is { Count: > 0 } leaks)
            throw new AsyncLeakException(Describe(leaks), leaks);
    }

    /// <summary>The end-of-run text for <see cref="FindUnclaimed"/>'s leaks (empty: none).</summary>
    public static string Describe(IReadOnlyList<AsyncLeak> leaks) => leaks.Count == 0 ? "" : LeakMessage.Unclaimed(leaks);

    private static void OnFirstChance(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
    {
        if (AsyncLeakScope.Current is { } scope)
        {
            scope.OnExceptionThrown();
            s_thrownIn.AddOrUpdate(e.Exception, scope);
        }
    }

    private static void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        var task = sender as Task;
        foreach (var exception in e.Exception.InnerExceptions)
        {
            if (s_thrownIn.TryGetValue(exception, out var scope))
            {
                scope.OnUnobserved(task, exception);
                e.SetObserved(); // reported as this test's failure: not also the process's
            }
            else
            {
                lock (s_unclaimed)
                    s_unclaimed.Add((task, exception));
            }
        }
    }
}
