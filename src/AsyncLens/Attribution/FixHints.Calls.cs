using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Symbols;

namespace AsyncLens.Attribution;

/// <summary>
/// What a call in a stretch is as a cause (<see cref="FixHints"/>): a known blocking API, a synchronous API with an async
/// twin, a computing call, a method of the user's, an async method whose first step ran inside the stretch; and whether
/// it could have held the thread the way the time says it was held.
/// </summary>
internal static partial class FixHints
{
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

    // A package's async method, or its method returning a task: its async API.
    private static bool PackagesAsyncApi(Candidate c) =>
        c.Kind is CallKind.UserCall or CallKind.AsyncCallee && !IsAppCode(c.Call.Target) && ReturnsAwaitable(c.Call.Target);

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
            switch (Classify(target, evidence, body))
            {
                case CallKind.Blocking or CallKind.Twin:
                    return true;
                case CallKind.UserCall or CallKind.AsyncCallee when IsAppCode(target) && CanBlock(target, evidence, depth - 1):
                    return true;
            }
        }
        return false;
    }

    // What a call made from `caller`'s code is as a cause.
    private static CallKind? Classify(MethodBase target, StretchEvidence evidence, MethodBase caller)
    {
        if (KnownBlocking(target) is { } blocking)
            return blocking.Waits && !evidence.WaitsCouldHold ? null : blocking.Spins ? CallKind.Spinning : CallKind.Blocking;
        switch (AsyncTwins.Of(target).Kind)
        {
            case TwinKind.SameArguments:
            case TwinKind.RunsAQuery when BuildsAQuery(caller):
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

    // Whether a method's code gets an IQueryable from a call (EF Core's `db.Orders`, `FromSqlRaw`, `Where` over one): then
    // the LINQ operators it calls may run that query (`ToList`), where over lists in memory they would only compute.
    private static bool BuildsAQuery(MethodBase method) => s_buildsAQuery.GetOrAdd(method, static m =>
        MethodSymbols.Calls(m).Any(c => c.Target is MethodInfo { ReturnType: var type } && typeof(System.Linq.IQueryable).IsAssignableFrom(type)));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MethodBase, bool> s_buildsAQuery = new();

    private const string WaitFix = "`.Result`/`.Wait()` blocks the thread on another task: `await` it instead (`await Task.WhenAll/WhenAny` for several)";

    // Not a helper the compiler generated in the app's assembly: <PrivateImplementationDetails>.ComputeStringHash, which a
    // switch over many strings calls on every path, is no code of the user's to name.
    private static bool IsPlainUserMethod(MethodBase m) =>
        !m.IsConstructor && !m.IsSpecialName && !m.Name.StartsWith('<') && m.GetCustomAttribute<StateMachineAttribute>() is null
        && m.DeclaringType?.Name.StartsWith('<') != true;

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
                    var twin = AsyncTwins.Of(target);
                    var blocks = twin.Kind == TwinKind.RunsAQuery ? "runs the query on this thread, blocking it" : "blocks the thread";
                    return new Hint(Call.Offset, Describe(target), $"`{Describe(target)}` {blocks}: use `await {twin.Name}(...)`") { Kind = HintKind.AsyncTwin };
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
