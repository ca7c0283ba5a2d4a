using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>
/// Finds the call in a slow stretch that most likely held the thread, and says how to fix it in
/// .NET terms: the async twin of a blocking API, <c>await</c> instead of <c>.Result</c>, or
/// <c>Task.Run</c> for CPU-bound work.
/// </summary>
internal static class FixHints
{
    public const string Generic =
        "nothing in this stretch awaits: move CPU-bound work off the async path with `await Task.Run(() => ...)`, "
        + "and call async APIs (`await Task.Delay`, `await stream.ReadAsync`) instead of blocking ones";

    public const string InFramework =
        "this step belongs to framework code: the time went to code it called that ran synchronously (a handler or "
        + "callback of yours, up to its first await that did not complete at once); look there for blocking or CPU-bound "
        + "work. In the first seconds of a process, this can also be the runtime loading and compiling code";

    public const string BlockingWait =
        "`await` the task instead of blocking on it; sync-over-async ties up a thread-pool thread "
        + "(starving the pool under load) and deadlocks a single-threaded SynchronizationContext";

    public const string Unobserved =
        "`await` the task, or route its failure somewhere: `task.ContinueWith(t => log(t.Exception), TaskContinuationOptions.OnlyOnFaulted)`";

    public const string PendingCollected =
        "what it awaits can never complete and nothing references it any more (typically a TaskCompletionSource "
        + "dropped without SetResult/SetException/SetCanceled): complete or cancel it, or pass a CancellationToken";

    private static readonly HashSet<string> s_quietTypes =
    [
        "System.Console", "System.IO.TextWriter", "System.IO.StreamWriter", "System.Diagnostics.Debug", "System.Diagnostics.Trace",
    ];

    public const string Loop =
        "this loop runs on the async path for the whole stretch without awaiting: if it is CPU-bound, move it off with "
        + "`await Task.Run(() => ...)`; if it waits for something, await it instead";

    /// <summary>
    /// The call in <paramref name="range"/> of <paramref name="method"/> that most likely blocked, with a fix; failing
    /// any, a loop within the range that does not await (<paramref name="awaitsBetween"/>), where CPU-bound work spins.
    /// </summary>
    public static Hint? ForStretch(MethodBase method, IlRanges range, Func<int, int, bool>? awaitsBetween = null)
    {
        Hint? twinHint = null;
        IlCall? userCall = null;
        var userCalls = 0;
        IlCall? asyncCall = null;
        var asyncCalls = 0;
        foreach (var call in MethodSymbols.Calls(method))
        {
            if (!range.Contains(call.Offset) || call.TakesAddress)
                continue;
            var target = call.Target;
            if (KnownBlocking(target) is { } fix)
                return new Hint(call.Offset, Describe(target), fix) { Kind = HintKind.Blocking };
            if (twinHint is null && AsyncTwin(target) is { } twin)
                twinHint = new Hint(call.Offset, Describe(target), $"`{Describe(target)}` blocks the thread: use `await {twin}(...)`") { Kind = HintKind.AsyncTwin };
            if (CodeOrigin.IsUserCode(target) && IsPlainUserMethod(target))
            {
                userCalls++;
                userCall = call;
            }
            else if (CodeOrigin.IsUserCode(target) && target.GetCustomAttribute<StateMachineAttribute>() is not null)
            {
                asyncCalls++;
                asyncCall = call;
            }
        }
        if (twinHint is not null)
            return twinHint;
        if (userCalls == 1 && userCall is { } only)
        {
            var name = MethodNames.Format(only.Target);
            return new Hint(only.Offset, name,
                $"`{name}` runs on the async path for the whole stretch: if it is CPU-bound, move it off with `await Task.Run(() => ...)`; if it does I/O, call its async API")
            {
                Kind = HintKind.UserCall,
            };
        }
        if (userCalls == 0 && asyncCalls == 1 && asyncCall is { } inner)
        {
            // An async method runs synchronously until its first await that does not complete at once:
            // its blocking code then runs inside this step.
            var name = MethodNames.Format(inner.Target);
            return new Hint(inner.Offset, name,
                $"the time was spent inside `{name}` before it first awaited something incomplete: look there for blocking or CPU-bound code, "
                + "and move it off the async path with `await Task.Run(() => ...)` or call the async API")
            {
                Kind = HintKind.AsyncCallee,
                AsyncCallee = inner.Target,
            };
        }
        // The framework's own loops (Kestrel's request loop) say nothing to the user: only loops in the user's code.
        if (userCalls == 0 && asyncCalls == 0 && awaitsBetween is not null && CodeOrigin.IsUserCode(method))
        {
            foreach (var loop in MethodSymbols.Loops(method))
            {
                if (range.Contains(loop.Head) && range.Contains(loop.BackEdge) && !awaitsBetween(loop.Head, loop.BackEdge))
                    return new Hint(loop.BackEdge, "a loop", Loop) { Kind = HintKind.Loop }; // its condition: the for / while line
            }
        }
        return null;
    }

    private static string? KnownBlocking(MethodBase m)
    {
        var type = m.DeclaringType;
        if (type is null)
            return null;
        var typeName = type.IsGenericType ? type.GetGenericTypeDefinition().FullName : type.FullName;
        return (typeName, m.Name) switch
        {
            ("System.Threading.Thread", "Sleep") => "`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`",
            ("System.Threading.Thread", "Join") => "`Thread.Join` blocks the thread: await a task that completes when the work is done",
            ("System.Threading.Tasks.Task", "Wait" or "WaitAll" or "WaitAny")
                or ("System.Threading.Tasks.Task`1", "get_Result") => "`.Result`/`.Wait()` blocks the thread on another task: `await` it instead (`await Task.WhenAll/WhenAny` for several)",
            ("System.Threading.SemaphoreSlim", "Wait") => "`SemaphoreSlim.Wait` blocks the thread: use `await semaphore.WaitAsync()`",
            ("System.Threading.WaitHandle" or "System.Threading.EventWaitHandle" or "System.Threading.ManualResetEvent" or "System.Threading.AutoResetEvent"
                or "System.Threading.Mutex" or "System.Threading.Semaphore", "WaitOne" or "WaitAll" or "WaitAny")
                or ("System.Threading.ManualResetEventSlim" or "System.Threading.CountdownEvent" or "System.Threading.Barrier", "Wait" or "SignalAndWait")
                or ("System.Threading.Monitor", "Wait")
                => $"`{type.Name}.{m.Name}` blocks the thread: wait asynchronously (a `TaskCompletionSource`, `SemaphoreSlim.WaitAsync`)",
            ("System.Threading.SpinWait", "SpinUntil") => "`SpinWait.SpinUntil` burns the thread: await a signal (`TaskCompletionSource`) instead",
            _ => null,
        };
    }

    private static string? AsyncTwin(MethodBase m)
    {
        if (m.DeclaringType is not { } type || m.Name.EndsWith("Async", StringComparison.Ordinal) || m.IsConstructor || m.IsSpecialName)
            return null;
        if (s_quietTypes.Contains(type.FullName ?? ""))
            return null;
        const BindingFlags all = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static;
        var twinName = m.Name + "Async";
        try
        {
            for (var t = type; t is not null; t = t.BaseType)
            {
                if (t.GetMember(twinName, MemberTypes.Method, all).Length > 0)
                    return $"{TypeNames.Format(type).Split('<')[0]}.{twinName}";
            }
        }
        catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException)
        {
        }
        return null;
    }

    private static bool IsPlainUserMethod(MethodBase m) =>
        !m.IsConstructor && !m.IsSpecialName && !m.Name.StartsWith('<') && m.GetCustomAttribute<StateMachineAttribute>() is null;

    private static string Describe(MethodBase m)
    {
        var type = m.DeclaringType is { } t ? TypeNames.Format(t.IsGenericType ? t.GetGenericTypeDefinition() : t).Split('<')[0] : "";
        var name = m.Name.StartsWith("get_", StringComparison.Ordinal) ? m.Name[4..] : m.Name;
        return type.Length == 0 ? name : $"{type}.{name}";
    }
}

/// <summary>The IL offset a fix is about (a call, or the head of a loop), the callee's short name, and the fix.</summary>
internal sealed record Hint(int Offset, string Callee, string Fix)
{
    public HintKind Kind { get; init; }

    /// <summary>
    /// Set when the only call of the user's in the stretch is to an async method: the time went to that method's
    /// first step (up to its first await that did not complete at once), which ran inside this one.
    /// </summary>
    public MethodBase? AsyncCallee { get; init; }
}

/// <summary>What kind of call a hint names, strongest evidence first.</summary>
internal enum HintKind : byte
{
    /// <summary>A known blocking API: Thread.Sleep, Task.Wait, .Result, a synchronous lock or event wait.</summary>
    Blocking,

    /// <summary>A method of the framework with an async twin (File.ReadAllText and File.ReadAllTextAsync).</summary>
    AsyncTwin,

    /// <summary>The one call of the user's in the stretch.</summary>
    UserCall,

    /// <summary>The one call of the user's is to an async method: see <see cref="Hint.AsyncCallee"/>.</summary>
    AsyncCallee,

    /// <summary>No call names anything, but the stretch holds a loop that does not await.</summary>
    Loop,
}
