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
internal static partial class FixHints
{
    public const string Generic =
        "nothing in this stretch awaits: move CPU-bound work off the async path with `await Task.Run(() => ...)`, "
        + "and call async APIs (`await Task.Delay`, `await stream.ReadAsync`) instead of blocking ones";

    public const string OnCpu =
        "the thread computed for most of this stretch without awaiting (the code does not tell which call did): "
        + "move the CPU-bound work off the async path with `await Task.Run(() => ...)`";

    public const string Blocked =
        "the thread was blocked for most of this stretch (I/O, a sleep or a lock; the code does not tell which call): "
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
            if (!call.TakesAddress && paths.MayHaveRun(call.Offset) && Classify(call.Target, evidence, body) is { } kind)
                calls.Add(new Candidate(call, kind, ran(call.Offset)));
        }
        // A package's async API is made not to hold its caller's thread: beside a call that can be named, the time is
        // not taken to be its (a minimal-API handler rendering a label in a hashing loop of the app's, then awaiting
        // Marten's `LoadAsync`: 1-2 s on a CPU, unreported). While the process warms up, its first run may have been it.
        if (!evidence.WarmUp && calls.Exists(c => !PackagesAsyncApi(c)))
            calls.RemoveAll(PackagesAsyncApi);
        var time = evidence.Time;
        var (onCpu, blocked) = (time.MostlyOnCpu, time.MostlyBlocked);
        // A computing stretch whose loops that do not await are one nest, with nothing else in it that could compute and
        // be named (a branch returning a cached value; the other computing in a loop; a package's async API, as the
        // framework's, is not named: gRPC's stream writes between a handler's computing rounds): the loop ran.
        if (onCpu && !evidence.Ongoing && Loops(code, body, paths).OrderBy(l => l.Head - l.BackEdge).ToList() is [var outer, ..] loops
            && loops.All(l => Within(l, outer)) && !paths.Ran(outer.Head)
            && !calls.Any(c => Fits(c, onCpu, evidence) && Nameable(c) && (c.Call.Offset < outer.Head || c.Call.Offset > outer.BackEdge)))
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
            if (Blocker(calls, spinCounts: !blocked) is { } blocker)
                return blocker.ToHint();
        }
        else
        {
            if (calls.FirstOrDefault(c => c.Ran && c.Kind == CallKind.Spinning) is { } spin)
                return spin.ToHint();
            if (LoopHint(code, body, paths, calls) is { } loop)
                return loop;
            // The split counts the code compiled on the thread as time on a CPU; the stretch's own time does not. A
            // stretch blocked for half its own time or more was blocked in a call: one that blocks and ran. (EF Core's
            // first query, its async count completing at once on a loaded machine, then a synchronous ToList: 0.65 s
            // on a CPU compiling and building its model, 0.3 s blocked in the query, 0.41 s its own; was not named.)
            if (!evidence.Ongoing && time.Blocked * 2 >= (long)(evidence.Seconds * TimeSpan.TicksPerSecond) && Blocker(calls, spinCounts: false) is { } blocker)
                return blocker.ToHint();
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

    // A call that blocks and ran (a .Result or .Wait() blocks only if a synchronous wait was seen), else a synchronous
    // API with an async twin that ran; one that spins counts only where the time does not say the thread was blocked.
    private static Candidate? Blocker(List<Candidate> calls, bool spinCounts) =>
        calls.FirstOrDefault(c => c.Ran && (c.Kind == CallKind.Blocking || (spinCounts && c.Kind == CallKind.Spinning)))
        ?? calls.FirstOrDefault(c => c.Ran && c.Kind == CallKind.Twin);

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

    /// <summary>The call may have run more than once in the stretch: its site is in a loop the stretch may have gone round.</summary>
    public bool MayRepeat { get; init; }
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
