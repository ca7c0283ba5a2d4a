using System.Reflection;
using AsyncLens.Symbols;

namespace AsyncLens.Attribution;

/// <summary>
/// Which code of the user's made a blocking wait, from the stack taken on the waiting thread as the wait began: its
/// first frame in the app's own code (else in a package's). A method whose last act is the wait (<c>() => client.GetAsync(id).Result</c>)
/// may be missing from that stack, the JIT having turned its call into a tail call: then the first frame of the
/// user's is a caller further up, not at a wait. When that happens while an ASP.NET Core handler runs (its endpoint
/// matched on the thread and the request is not over), the handler is the code that waited, at its wait call.
/// </summary>
internal static class WaitSites
{
    /// <summary>The method and IL offset that waited (offset -1: not known), or null. Frames of dynamic methods (no declaring type) are the framework's.</summary>
    public static (MethodBase Method, int ILOffset)? Waiter(IReadOnlyList<(MethodBase? Method, int ILOffset)> stack, MethodInfo? handler)
    {
        (MethodBase Method, int ILOffset)? user = null;
        var index = -1;
        // The app's own frame first: a package that waits inside a synchronous API of its own (StackExchange.Redis's
        // ConnectionMultiplexer.Connect) was called by the app's code, at the line to change; a package's frame only
        // when no frame of the app's is on the stack (a package's own thread).
        foreach (var appOnly in (bool[])[true, false])
        {
            for (var i = 0; i < stack.Count && user is null; i++)
            {
                if (stack[i].Method is { } method && CodeOrigin.IsUserCode(method)
                    && (!appOnly || CodeOrigin.Kind(method.Module.Assembly) == CodeKind.User))
                    (user, index) = ((method, CallThatWaited(stack, i)), i);
            }
        }
        // The frame found called what waited (a wait, or a method still on the stack above it): it is no caller further up.
        if (handler is null || stack.Any(f => f.Method is { DeclaringType: not null } m && MethodSymbols.SameDefinition(m, handler))
            || user is { } u && (WaitsAt(u.Method, u.ILOffset) || CallsFrameAbove(stack, index, u.ILOffset)))
            return user;
        return (handler, WaitCall(handler) ?? -1);
    }

    /// <summary>
    /// A library's own wait: no frame of the app's own code on the waiting stack, in no step or delegate run of the
    /// app's (<paramref name="stepCode"/>: the step's state machine or the delegate's declaring type, if any) and no
    /// request's handler. Nothing of the app's waited, and there is nothing the app can change: Akka.NET starts its
    /// scheduler's worker on first use and stops it at shutdown, each time waiting on a pool thread, in a continuation of
    /// its own, for that worker to answer, as long as the worker waits for a CPU (0.10-0.57 s at load 22-31, in 22 of
    /// 40 runs of tests/RealApps/Actors; a few milliseconds on a quiet machine).
    /// </summary>
    public static bool LibrarysOwn(IEnumerable<MethodBase?> stack, Type? stepCode, bool inRequest) =>
        !inRequest && (stepCode is null || !CodeOrigin.IsAppCode(stepCode.Assembly))
        && !stack.Any(m => m?.DeclaringType is { } type && CodeOrigin.IsAppCode(type.Assembly));

    /// <summary>
    /// The IL offset of the call the innermost frame of <paramref name="method"/> on the stack is in, or null when it is not
    /// on it: a running async method's MoveNext is there, at its line now, whatever await it last resumed from.
    /// </summary>
    public static int? OffsetOnStack(IReadOnlyList<(MethodBase? Method, int ILOffset)> stack, MethodBase method)
    {
        for (var i = 0; i < stack.Count; i++)
        {
            if (stack[i].Method is { DeclaringType: not null } m && MethodSymbols.SameDefinition(m, method))
                return CallThatWaited(stack, i) is var offset and >= 0 ? offset : null;
        }
        return null;
    }

    // The IL offset of the call that waited, in the user's frame at `index`. In optimized code a frame's IL offset is
    // that of the last point where the IL stack was empty: for `Console.WriteLine(t.Result)` after `var t = F();`, the
    // start of the line before. The wait itself is one of the frames above it, or, inlined, a call to `.Result` or
    // `.Wait()`: the first such call from there on is where it waited. An awaiter's GetResult is not looked for (an
    // async method's every await calls one; the first after the offset is most often not the wait).
    private static int CallThatWaited(IReadOnlyList<(MethodBase? Method, int ILOffset)> stack, int index)
    {
        var (method, offset) = stack[index];
        if (offset < 0)
            return offset;
        var calls = MethodSymbols.Calls(method!).Where(c => c.Offset >= offset && !c.TakesAddress).ToList();
        foreach (var call in calls)
        {
            if (stack.Take(index).Any(f => f.Method is { DeclaringType: not null } above && MethodSymbols.SameDefinition(above, call.Target)))
                return call.Offset;
        }
        foreach (var call in calls)
        {
            if (Waits(call.Target) && call.Target.Name != "GetResult")
                return call.Offset;
        }
        return offset;
    }

    // True when the call at the offset in the frame at `index` is to a method on the stack above it.
    private static bool CallsFrameAbove(IReadOnlyList<(MethodBase? Method, int ILOffset)> stack, int index, int offset) =>
        offset >= 0 && MethodSymbols.Calls(stack[index].Method!).FirstOrDefault(c => c.Offset == offset).Target is { } target
        && stack.Take(index).Any(f => f.Method is { DeclaringType: not null } above && MethodSymbols.SameDefinition(above, target));

    // True when the call at (or just before) the offset is one that waits for a task (no call is, before the first).
    private static bool WaitsAt(MethodBase method, int offset) =>
        MethodSymbols.Calls(method).LastOrDefault(c => c.Offset <= offset) is { Target: { } target } && Waits(target);

    // The offset of the first call in the method that waits for a task.
    private static int? WaitCall(MethodBase method) =>
        MethodSymbols.Calls(method).Where(c => !c.TakesAddress && Waits(c.Target)).Select(c => (int?)c.Offset).FirstOrDefault();

    private static bool Waits(MethodBase m)
    {
        if (m.DeclaringType is not { } type)
            return false;
        var name = (type.IsGenericType ? type.GetGenericTypeDefinition() : type).FullName;
        return (name, m.Name) switch
        {
            ("System.Threading.Tasks.Task" or "System.Threading.Tasks.Task`1", "Wait" or "WaitAll" or "WaitAny" or "get_Result") => true,
            ("System.Threading.Tasks.ValueTask`1", "get_Result") => true,
            ("System.Runtime.CompilerServices.TaskAwaiter" or "System.Runtime.CompilerServices.TaskAwaiter`1"
                or "System.Runtime.CompilerServices.ConfiguredTaskAwaitable+ConfiguredTaskAwaiter"
                or "System.Runtime.CompilerServices.ConfiguredTaskAwaitable`1+ConfiguredTaskAwaiter", "GetResult") => true,
            _ => false,
        };
    }
}
