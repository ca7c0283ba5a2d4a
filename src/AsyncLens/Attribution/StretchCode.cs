using System.Collections.Concurrent;
using System.Reflection;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Attribution;

/// <summary>
/// The code a stretch runs, with what the PDB and the IL say about it: an async method (its MoveNext, whose awaits
/// split it into steps) or a plain method run whole (an ASP.NET Core handler that is not async). Cached per method.
/// </summary>
internal sealed class StretchCode
{
    private static readonly ConcurrentDictionary<object, StretchCode> s_cache = new();

    private readonly AsyncMethodSymbols? _async;
    private readonly SequencePointTable? _lines;
    private readonly IReadOnlyList<AwaitOffsets> _awaits;
    private readonly Lazy<ControlFlow?> _flow;

    private StretchCode(AsyncMethodSymbols symbols)
    {
        _async = symbols;
        Name = symbols.Name;
        Kickoff = symbols.Kickoff;
        Body = symbols.MoveNext;
        IsUserCode = symbols.IsUserCode;
        _awaits = symbols.Awaits;
        _flow = new(() => Body is null ? null : ControlFlow.Of(Body, _awaits.SelectMany(a => new[] { a.YieldOffset, a.ResumeOffset })));
    }

    private StretchCode(MethodBase method)
    {
        Name = MethodNames.Format(method);
        Kickoff = method;
        Body = method;
        IsUserCode = CodeOrigin.IsUserCode(method);
        _lines = MethodSymbols.Lines(method);
        _awaits = [];
        _flow = new(() => ControlFlow.Of(method, []));
    }

    /// <summary>An async method, by its state machine type.</summary>
    public static StretchCode For(Type stateMachine) => s_cache.GetOrAdd(stateMachine, static t => new StretchCode(AsyncMethodSymbols.For((Type)t)));

    /// <summary>A method: an async one by its state machine, any other run whole.</summary>
    public static StretchCode For(MethodBase method) =>
        method.GetCustomAttribute<System.Runtime.CompilerServices.AsyncStateMachineAttribute>()?.StateMachineType is { } type
            ? For(type)
            : s_cache.GetOrAdd(method, static m => new StretchCode((MethodBase)m));

    /// <summary>The method as written: <c>Shop.FetchUser(int)</c>.</summary>
    public string Name { get; }

    /// <summary>The method the user wrote (for an async method, the one its state machine runs).</summary>
    public MethodBase? Kickoff { get; }

    /// <summary>The body whose IL the stretch runs: an async method's MoveNext, or the method itself.</summary>
    public MethodBase? Body { get; }

    public bool IsUserCode { get; }

    /// <summary>An async method's symbols; null for a plain method.</summary>
    public AsyncMethodSymbols? Async => _async;

    public SourceLocation? LineAt(int ilOffset) => _async is { } a ? a.LineAt(ilOffset) : _lines?.At(ilOffset);

    /// <summary>The first line of the body.</summary>
    public SourceLocation? StartLocation => _async is { } a ? a.StartLocation : _lines?.AtOrAfter(0);

    /// <summary>The line where the body ends (its closing brace).</summary>
    public SourceLocation? EndLocation => _async is { } a ? a.EndLocation : _lines?.Last();

    public SourceLocation? AwaitLocation(int state) => _async?.AwaitLocation(state);

    /// <summary>True when an await yields between IL offsets <paramref name="from"/> and <paramref name="to"/> (a loop that awaits).</summary>
    public bool AwaitsBetween(int from, int to) => _async?.AwaitsBetween(from, to) ?? false;

    /// <summary>
    /// What ran from where it resumed (the await of <paramref name="resumedState"/>, or the start) to where it stopped
    /// (the await of <paramref name="stoppedState"/>, -2 the end, unknown: any await or the end; <paramref name="ongoing"/>:
    /// not yet), never through another await, which would have ended it there. Null when the IL cannot be read.
    /// </summary>
    public StretchPaths? Paths(int resumedState, int stoppedState, bool ongoing, bool threw)
    {
        if (_flow.Value is not { } flow)
            return null;
        var from = Valid(resumedState) ? _awaits[resumedState].ResumeOffset : 0;
        IReadOnlyCollection<int>? to;
        var barriers = new List<int>();
        foreach (var (i, a) in _awaits.Index())
        {
            if (a.ResumeOffset != from)
                barriers.Add(a.ResumeOffset);
            if (ongoing || stoppedState == AsyncState.Done || (Valid(stoppedState) && i != stoppedState))
                barriers.Add(a.YieldOffset);
        }
        if (ongoing)
            to = null;
        else if (Valid(stoppedState))
            to = [_awaits[stoppedState].YieldOffset];
        else if (stoppedState == AsyncState.Done || _awaits.Count == 0)
            to = [];
        else
            to = [.. _awaits.Select(a => a.YieldOffset), .. flow.Exits];
        return flow.Paths(from, to, barriers, threw);
    }

    private bool Valid(int state) => state >= 0 && state < _awaits.Count;

    /// <summary>
    /// Whether a stretch of an async method has code of its own that could take a slow step's time. IL with no loop and
    /// no call but to the await machinery (awaiters, the method builder, <c>GetAwaiter</c>, <c>ConfigureAwait</c>,
    /// <c>Task.Yield</c>) runs in microseconds: <c>await Task.Yield(); return i;</c> resumed, a step of a few field moves.
    /// When such a step still took the threshold, the time was not the code's: the thread waited for the runtime (a lock
    /// of its registry of active tasks held by a thread preempted meanwhile, measured at 100-200 ms on a busy machine),
    /// or for the machine; nothing in it can be named or fixed.
    /// </summary>
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
