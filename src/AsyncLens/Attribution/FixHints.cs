using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Symbols;

namespace AsyncLens.Attribution;

/// <summary>
/// Finds the call in a slow stretch that most likely held the thread, and says how to fix it in .NET terms: the
/// async twin of a blocking API, <c>await</c> instead of <c>.Result</c>, or <c>Task.Run</c> for CPU-bound work.
/// Only code that ran is named: a call on every path of the stretch (<see cref="StretchPaths"/>), and where the
/// stretch's branches leave several candidates, none. The time decides between kinds of cause: a stretch that
/// spent its time on a CPU was not held by a blocking call, one that spent it blocked was not held by a loop.
/// </summary>
internal static class FixHints
{
    public const string Generic =
        "nothing in this stretch awaits: move CPU-bound work off the async path with `await Task.Run(() => ...)`, "
        + "and call async APIs (`await Task.Delay`, `await stream.ReadAsync`) instead of blocking ones";

    public const string OnCpu =
        "the thread computed for most of this stretch without awaiting (its branches do not tell which call did): "
        + "move the CPU-bound work off the async path with `await Task.Run(() => ...)`";

    public const string Blocked =
        "the thread was blocked for most of this stretch (I/O, a sleep or a lock; its branches do not tell which call): "
        + "call the async API instead (`await stream.ReadAsync`, `await command.ExecuteReaderAsync`, `await Task.Delay`)";

    public const string InFramework =
        "this step belongs to framework code: the time went to code it called that ran synchronously (a handler or "
        + "callback of yours, up to its first await that did not complete at once); look there for blocking or CPU-bound "
        + "work. In the first seconds of a process, this can also be the runtime loading and compiling code";

    public const string BlockingWait =
        "`await` the task instead of blocking on it; sync-over-async ties up a thread-pool thread "
        + "(starving the pool under load) and deadlocks a single-threaded SynchronizationContext";

    public const string Unobserved =
        "`await` the task, or route its failure somewhere: `task.ContinueWith(t => log(t.Exception), TaskContinuationOptions.OnlyOnFaulted)`";

    public const string Forgotten =
        "give `.Forget(...)` a handler that deals with the failure (`task.Forget(ex => logger.LogError(ex, \"...\"))`), "
        + "or `await` the task";

    public const string AsyncVoid =
        "make it `async Task` and await it; an event handler that must stay `async void`: catch and handle its exceptions "
        + "inside it (try/catch around the whole body)";

    public const string LostExceptions =
        "to see every exception, await `Task.WhenAll(...).WithAllExceptions()` (AsyncLens: an AggregateException of them "
        + "all) or `AsyncTasks.WhenAllSettled(...)` (each task's outcome); by hand: keep the WhenAll task and read its "
        + "`.Exception.InnerExceptions` where you catch";

    public const string CancelledCleanup =
        "give the cleanup a token of its own, bounded in time, not the one that canceled the work: "
        + "`await AsyncCleanup.RunAsync(ct => CloseAsync(ct), TimeSpan.FromSeconds(5))` (AsyncLens; asyncio's shield, "
        + "Kotlin's NonCancellable)";

    public const string SyncOverAsyncDeadlock =
        "`await` the task instead of blocking on it (async all the way up); in library code, `ConfigureAwait(false)` on its "
        + "awaits keeps their continuations off the caller's context";

    public const string PendingCollected =
        "what it awaits can never complete and nothing references it any more (typically a TaskCompletionSource "
        + "dropped without SetResult/SetException/SetCanceled): complete or cancel it, or pass a CancellationToken";

    public const string Loop =
        "this loop runs on the async path for the whole stretch without awaiting: if it is CPU-bound, move it off with "
        + "`await Task.Run(() => ...)`; if it waits for something, await it instead";

    /// <summary>
    /// The fix for a blocking wait made inside a library's synchronous API the app called at <paramref name="offset"/> of
    /// <paramref name="method"/> (StackExchange.Redis's <c>ConnectionMultiplexer.Connect</c> waits for its own connect
    /// task): the API's async twin, where it has one; else null (the wait is the app's own: <see cref="BlockingWait"/>).
    /// </summary>
    public static string? ForWaitInside(MethodBase method, int offset)
    {
        if (offset < 0 || MethodSymbols.Calls(method).FirstOrDefault(c => c.Offset == offset).Target is not { } called
            || CodeOrigin.Kind(called.Module.Assembly) == CodeKind.User || KnownBlocking(called) is not null)
            return null;
        var twin = AsyncTwins.Of(called);
        return twin.Kind == TwinKind.SameArguments
            ? $"`{Describe(called)}` blocks the thread (it waits for a task inside {called.Module.Assembly.GetName().Name}): use `await {twin.Name}(...)`"
            : null;
    }

    /// <summary>The fix when no call is named: what the time says, else the generic advice.</summary>
    public static string Unnamed(TimeSplit time) => time.MostlyOnCpu ? OnCpu : time.MostlyBlocked ? Blocked : Generic;

    /// <summary>
    /// The call in the stretch <paramref name="paths"/> of <paramref name="code"/> that most likely held the thread,
    /// with a fix; failing any, a loop that does not await, where CPU-bound work spins; null when the evidence names none.
    /// </summary>
    public static Hint? ForStretch(StretchCode code, StretchPaths paths, StretchEvidence evidence)
    {
        if (code.Body is not { } body)
            return null;
        // A hung step has not stopped: nothing is known to have run, and it is inside one of the calls that may have.
        Func<int, bool> ran = evidence.Ongoing ? paths.MayHaveRun : paths.Ran;
        var calls = new List<Candidate>();
        foreach (var call in MethodSymbols.Calls(body))
        {
            if (!call.TakesAddress && paths.MayHaveRun(call.Offset) && Classify(call.Target, evidence) is { } kind)
                calls.Add(new Candidate(call, kind, ran(call.Offset)));
        }
        var time = evidence.Time;
        var (onCpu, blocked) = (time.MostlyOnCpu, time.MostlyBlocked);
        // A computing stretch whose loops that do not await are one nest, with nothing else in it that could compute (a
        // branch returning a cached value; the other computing in a loop): the loop ran.
        if (onCpu && !evidence.Ongoing && Loops(code, body, paths).OrderBy(l => l.Head - l.BackEdge).ToList() is [var outer, ..] loops
            && loops.All(l => Within(l, outer)) && !paths.Ran(outer.Head)
            && !calls.Any(c => Fits(c, onCpu, evidence) && (c.Call.Offset < outer.Head || c.Call.Offset > outer.BackEdge)))
        {
            paths = paths.Knowing(outer.Head);
            calls = [.. calls.Select(c => c with { Ran = paths.Ran(c.Call.Offset) })];
        }
        // The time went somewhere: when one call alone in the stretch could have taken it, that call ran.
        Candidate? held = null;
        if (!evidence.Ongoing && (onCpu || blocked) && calls.Where(c => Fits(c, onCpu, evidence)).ToList() is [var alone]
            && !(onCpu && Loops(code, body, paths).Any()))
            calls[calls.IndexOf(alone)] = held = alone with { Ran = true };
        if (!onCpu)
        {
            // A call that blocks and ran (a .Result or .Wait() blocks only if a synchronous wait was seen); one that
            // spins counts only where the time does not say the thread was blocked.
            var blocker = calls.FirstOrDefault(c => c.Ran && (c.Kind == CallKind.Blocking || (!blocked && c.Kind == CallKind.Spinning)))
                ?? calls.FirstOrDefault(c => c.Ran && c.Kind == CallKind.Twin);
            if (blocker is not null)
                return blocker.ToHint();
        }
        else
        {
            if (calls.FirstOrDefault(c => c.Ran && c.Kind == CallKind.Spinning) is { } spin)
                return spin.ToHint();
            if (LoopHint(code, body, paths, calls) is { } loop)
                return loop;
        }
        if (held is { Kind: CallKind.UserCall or CallKind.AsyncCallee })
            return Nameable(held) ? held.ToHint() : null;
        // The one method of the user's (or computing call) the stretch may have called, at a call that ran; failing
        // any, the one async method of the user's, whose first step ran inside the stretch. Where the thread was blocked,
        // only one whose code can block.
        calls.RemoveAll(c => blocked && c.Kind is CallKind.UserCall or CallKind.AsyncCallee && !Fits(c, onCpu: false, evidence));
        var users = calls.Where(c => c.Kind == CallKind.UserCall || (!blocked && c.Kind == CallKind.CpuBound)).ToList();
        if (users.Count > 0)
            return One(users) is { Ran: true } only && Nameable(only) ? only.ToHint() : null;
        var callees = calls.Where(c => c.Kind == CallKind.AsyncCallee).ToList();
        if (callees.Count > 0)
            return One(callees) is { Ran: true } callee ? callee.ToHint() : null;
        return onCpu || blocked ? null : LoopHint(code, body, paths, calls);
    }

    // Whether a call can hold a thread the way the time says it was held: computing, or blocked. A method of the user's
    // can compute in any framework call it makes; it can block only where its code (or a method of the user's it calls,
    // a few levels down) blocks: a polling loop's step calling `mode.Has(...)` and `store.AuditAsync()` was blocked
    // 0.3 s in the second, by a synchronous query in it (Dapper's `ExecuteScalar`), not in the first. A stretch that threw
    // may have spent its time throwing: there every method of the user's could have. A package's method called from the
    // step is not looked into.
    private static bool Fits(Candidate c, bool onCpu, StretchEvidence evidence) => c.Kind switch
    {
        CallKind.UserCall or CallKind.AsyncCallee => onCpu || evidence.Threw || !IsAppCode(c.Call.Target) || CanBlock(c.Call.Target, evidence, depth: 3),
        CallKind.Spinning or CallKind.CpuBound => onCpu,
        _ => !onCpu,
    };

    // Whether a method of the app's own can block its thread: a blocking call or a synchronous API with an async twin, a
    // lock, a delegate (whatever it runs), a method of the app's that can, or code that cannot be read (an interface's
    // method; past the depth). Other calls, a package's as the framework's, are taken not to block unless they are known
    // to (Dapper's `ExecuteScalar`), as in the step's own code; a package's method the step itself called is not looked into.
    // A call that can be named as the one that held the thread: not a package's async API (Dapper's
    // QuerySingleOrDefaultAsync), made not to block: where a first call's connecting held the thread in it, telling the
    // user to "call its async API" is wrong, and the line to change is not known.
    private static bool Nameable(Candidate c) => c.Kind != CallKind.UserCall || IsAppCode(c.Call.Target) || !ReturnsAwaitable(c.Call.Target);

    private static bool ReturnsAwaitable(MethodBase method) =>
        method is MethodInfo { ReturnType: var type } && (typeof(Task).IsAssignableFrom(type)
            || type.IsGenericType && type.GetGenericTypeDefinition() is var d && (d == typeof(ValueTask<>) || d == typeof(IAsyncEnumerable<>))
            || type == typeof(ValueTask));

    private static bool IsAppCode(MethodBase method) => CodeOrigin.Kind(method.Module.Assembly) == CodeKind.User;

    private static bool CanBlock(MethodBase method, StretchEvidence evidence, int depth)
    {
        if (depth < 0 || method.IsAbstract || StretchCode.For(method).Body is not { } body)
            return true;
        foreach (var call in MethodSymbols.Calls(body))
        {
            if (call.TakesAddress)
                continue;
            var target = call.Target;
            if (target.DeclaringType is { } type && (typeof(Delegate).IsAssignableFrom(type) && target.Name == "Invoke"
                || type.FullName is "System.Threading.Monitor" or "System.Threading.Lock" && target.Name is "Enter" or "TryEnter"))
                return true;
            switch (Classify(target, evidence))
            {
                case CallKind.Blocking or CallKind.Twin:
                    return true;
                case CallKind.UserCall or CallKind.AsyncCallee when IsAppCode(target) && CanBlock(target, evidence, depth - 1):
                    return true;
            }
        }
        return false;
    }

    // The calls, if they all go to one method: the first of them that ran, else the first.
    private static Candidate? One(List<Candidate> calls) =>
        calls.All(c => MethodSymbols.SameDefinition(c.Call.Target, calls[0].Call.Target)) ? calls.FirstOrDefault(c => c.Ran) ?? calls[0] : null;

    // The loops that do not await and may have run, if they are one nest: the innermost; inside it, the one call of
    // the user's or computing call, else its condition line. Only loops in the user's code (not Kestrel's request loop).
    private static Hint? LoopHint(StretchCode code, MethodBase body, StretchPaths paths, List<Candidate> calls)
    {
        if (!code.IsUserCode)
            return null;
        var loops = Loops(code, body, paths).Where(l => paths.Ran(l.BackEdge) || paths.Ran(l.Head)).OrderBy(l => l.BackEdge - l.Head).ToList();
        if (loops.Count == 0 || loops.Any(l => !Within(l, loops[^1])))
            return null;
        var inner = loops[0];
        var inside = calls.Where(c => c.Kind is CallKind.UserCall or CallKind.CpuBound && c.Call.Offset >= loops[^1].Head && c.Call.Offset <= loops[^1].BackEdge).ToList();
        if (inside.Count == 1)
            return inside[0].ToHint();
        return new Hint(inner.BackEdge, "a loop", Loop) { Kind = HintKind.Loop }; // its condition: the for / while line
    }

    // The loops of the stretch that do not await.
    private static IEnumerable<IlLoop> Loops(StretchCode code, MethodBase body, StretchPaths paths) =>
        MethodSymbols.Loops(body).Where(l => paths.MayHaveRun(l.BackEdge) && !code.AwaitsBetween(l.Head, l.BackEdge));

    private static bool Within(IlLoop inner, IlLoop outer) => inner.Head >= outer.Head && inner.BackEdge <= outer.BackEdge;

    private static CallKind? Classify(MethodBase target, StretchEvidence evidence)
    {
        if (KnownBlocking(target) is { } blocking)
            return blocking.Waits && !evidence.Waited ? null : blocking.Spins ? CallKind.Spinning : CallKind.Blocking;
        switch (AsyncTwins.Of(target).Kind)
        {
            case TwinKind.SameArguments:
                return CallKind.Twin;
            case TwinKind.ReadsAStream:
                return CallKind.CpuBound;
        }
        if (!CodeOrigin.IsUserCode(target))
            return null;
        if (IsPlainUserMethod(target))
            return CallKind.UserCall;
        return target.GetCustomAttribute<StateMachineAttribute>() is not null ? CallKind.AsyncCallee : null;
    }

    private static (string Fix, bool Waits, bool Spins)? KnownBlocking(MethodBase m)
    {
        var type = m.DeclaringType;
        if (type is null)
            return null;
        var typeName = type.IsGenericType ? type.GetGenericTypeDefinition().FullName : type.FullName;
        return (typeName, m.Name) switch
        {
            ("System.Threading.Thread", "Sleep") => ("`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`", false, false),
            ("System.Threading.Thread", "Join") => ("`Thread.Join` blocks the thread: await a task that completes when the work is done", false, false),
            // Task.WaitAll and WaitAny raise no wait event of their own: they count whether or not one was seen.
            ("System.Threading.Tasks.Task", "WaitAll" or "WaitAny") => (WaitFix, false, false),
            ("System.Threading.Tasks.Task", "Wait") or ("System.Threading.Tasks.Task`1", "get_Result") => (WaitFix, true, false),
            ("System.Threading.SemaphoreSlim", "Wait") => ("`SemaphoreSlim.Wait` blocks the thread: use `await semaphore.WaitAsync()`", false, false),
            ("System.Threading.WaitHandle" or "System.Threading.EventWaitHandle" or "System.Threading.ManualResetEvent" or "System.Threading.AutoResetEvent"
                or "System.Threading.Mutex" or "System.Threading.Semaphore", "WaitOne" or "WaitAll" or "WaitAny")
                or ("System.Threading.ManualResetEventSlim" or "System.Threading.CountdownEvent" or "System.Threading.Barrier", "Wait" or "SignalAndWait")
                or ("System.Threading.Monitor", "Wait")
                => ($"`{type.Name}.{m.Name}` blocks the thread: wait asynchronously (a `TaskCompletionSource`, `SemaphoreSlim.WaitAsync`)", false, false),
            ("System.Threading.SpinWait", "SpinUntil") => ("`SpinWait.SpinUntil` burns the thread: await a signal (`TaskCompletionSource`) instead", false, true),
            _ => null,
        };
    }

    private const string WaitFix = "`.Result`/`.Wait()` blocks the thread on another task: `await` it instead (`await Task.WhenAll/WhenAny` for several)";

    private static bool IsPlainUserMethod(MethodBase m) =>
        !m.IsConstructor && !m.IsSpecialName && !m.Name.StartsWith('<') && m.GetCustomAttribute<StateMachineAttribute>() is null;

    private static string Describe(MethodBase m)
    {
        var type = m.DeclaringType is { } t ? TypeNames.Format(t.IsGenericType ? t.GetGenericTypeDefinition() : t).Split('<')[0] : "";
        var name = m.Name.StartsWith("get_", StringComparison.Ordinal) ? m.Name[4..] : m.Name;
        return type.Length == 0 ? name : $"{type}.{name}";
    }

    private enum CallKind : byte
    {
        Blocking,
        Spinning,
        Twin,
        CpuBound,
        UserCall,
        AsyncCallee,
    }

    // A call that may have run in the stretch, what kind of cause it would be, and whether it certainly ran.
    private sealed record Candidate(IlCall Call, CallKind Kind, bool Ran)
    {
        public Hint ToHint()
        {
            var target = Call.Target;
            switch (Kind)
            {
                case CallKind.Blocking or CallKind.Spinning:
                    return new Hint(Call.Offset, Describe(target), KnownBlocking(target)!.Value.Fix) { Kind = HintKind.Blocking };
                case CallKind.Twin:
                    return new Hint(Call.Offset, Describe(target), $"`{Describe(target)}` blocks the thread: use `await {AsyncTwins.Of(target).Name}(...)`") { Kind = HintKind.AsyncTwin };
                case CallKind.CpuBound:
                    return new Hint(Call.Offset, Describe(target),
                        $"`{Describe(target)}` computes over data already in memory (its async twin `{AsyncTwins.Of(target).Name}` reads a stream): "
                        + "CPU-bound work; move it off the async path with `await Task.Run(() => ...)`") { Kind = HintKind.CpuBound };
                case CallKind.UserCall:
                    var name = MethodNames.Format(target);
                    return new Hint(Call.Offset, name,
                        $"`{name}` runs on the async path for the whole stretch: if it is CPU-bound, move it off with `await Task.Run(() => ...)`; if it does I/O, call its async API")
                    { Kind = HintKind.UserCall };
                default:
                    // An async method runs synchronously until its first await that does not complete at once:
                    // its blocking code then runs inside this step.
                    var callee = MethodNames.Format(target);
                    return new Hint(Call.Offset, callee,
                        $"the time was spent inside `{callee}` before it first awaited something incomplete: look there for blocking or CPU-bound code, "
                        + "and move it off the async path with `await Task.Run(() => ...)` or call the async API")
                    { Kind = HintKind.AsyncCallee, AsyncCallee = target };
            }
        }
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

    /// <summary>A framework call computing over data in memory, whose async twin reads a stream (SHA256.HashData(byte[])).</summary>
    CpuBound,

    /// <summary>The one call of the user's in the stretch.</summary>
    UserCall,

    /// <summary>The one call of the user's is to an async method: see <see cref="Hint.AsyncCallee"/>.</summary>
    AsyncCallee,

    /// <summary>No call names anything, but the stretch holds a loop that does not await.</summary>
    Loop,
}
