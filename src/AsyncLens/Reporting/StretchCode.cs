using System.Reflection;
using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>
/// Whether a stretch of an async method has code of its own that could take a slow step's time. IL with no loop and
/// no call but to the await machinery (awaiters, the method builder, <c>GetAwaiter</c>, <c>ConfigureAwait</c>,
/// <c>Task.Yield</c>) runs in microseconds: <c>await Task.Yield(); return i;</c> resumed, a step of a few field moves.
/// When such a step still took the threshold, the time was not the code's: the thread waited for the runtime (a lock
/// of its registry of active tasks held by a thread preempted meanwhile, measured at 100-200 ms on a busy machine),
/// or for the machine; nothing in it can be named or fixed.
/// </summary>
internal static class StretchCode
{
    public static bool CannotTakeLong(MethodBase moveNext, IlRanges range)
    {
        foreach (var call in MethodSymbols.Calls(moveNext))
        {
            if (range.Contains(call.Offset) && !IsAwaitMachinery(call.Target))
                return false;
        }
        foreach (var loop in MethodSymbols.Loops(moveNext))
        {
            if (range.Contains(loop.Head) || range.Contains(loop.BackEdge))
                return false;
        }
        return true;
    }

    private static bool IsAwaitMachinery(MethodBase method)
    {
        if (method.DeclaringType is not { } type)
            return false;
        if (type.Namespace == "System.Runtime.CompilerServices"
            && (type.Name.Contains("Await", StringComparison.Ordinal) || type.Name.Contains("MethodBuilder", StringComparison.Ordinal)
                || type.Name == nameof(System.Runtime.CompilerServices.IAsyncStateMachine)))
            return true;
        return type.Namespace == "System.Threading.Tasks" && type.Name is "Task" or "Task`1" or "ValueTask" or "ValueTask`1"
            && method.Name is "GetAwaiter" or "ConfigureAwait" or "Yield";
    }
}
