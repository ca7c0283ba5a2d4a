using System.Collections.Concurrent;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>
/// What the PDB says about one async method: the line of each await (state N is the N-th
/// await of the async stepping information) and the IL range of each step.
/// </summary>
internal sealed class AsyncMethodSymbols
{
    private static readonly ConcurrentDictionary<Type, AsyncMethodSymbols> s_cache = new();

    private readonly AwaitOffsets[] _awaits;
    private readonly SequencePointTable? _lines;

    private AsyncMethodSymbols(Type stateMachine)
    {
        StateMachineType = stateMachine;
        Name = MethodNames.ForStateMachine(stateMachine);
        Kickoff = MethodNames.Kickoff(stateMachine);
        MoveNext = stateMachine.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes);
        IsUserCode = CodeOrigin.IsUserCode(stateMachine.Assembly);
        var symbols = AssemblySymbols.For(stateMachine.Assembly);
        _awaits = (MoveNext is not null ? symbols?.AsyncStepping(MoveNext) : null) ?? [];
        _lines = MoveNext is not null ? symbols?.SequencePoints(MoveNext) : null;
    }

    public static AsyncMethodSymbols For(Type stateMachine) => s_cache.GetOrAdd(stateMachine, t => new AsyncMethodSymbols(t));

    public Type StateMachineType { get; }

    /// <summary>The readable method name, e.g. <c>Shop.FetchUser(int)</c>.</summary>
    public string Name { get; }

    public MethodBase? Kickoff { get; }

    public MethodInfo? MoveNext { get; }

    public bool IsUserCode { get; }

    public bool HasLines => _lines is not null;

    /// <summary>Where each await (state 0, 1, ...) yields and resumes, as IL offsets of <see cref="MoveNext"/>.</summary>
    public IReadOnlyList<AwaitOffsets> Awaits => _awaits;

    /// <summary>The line of the await the method is parked on in <paramref name="state"/> (0, 1, ...).</summary>
    public SourceLocation? AwaitLocation(int state) =>
        state >= 0 && state < _awaits.Length ? _lines?.At(_awaits[state].YieldOffset) : null;

    /// <summary>The line where the method body ends (its closing brace).</summary>
    public SourceLocation? EndLocation => _lines?.Last();

    /// <summary>The first line of the method body.</summary>
    public SourceLocation? StartLocation => _lines?.AtOrAfter(0);

    public SourceLocation? LineAt(int ilOffset) => _lines?.At(ilOffset);

    /// <summary>
    /// The IL a step ran: from where it resumed (the await of <paramref name="resumedState"/>, or the
    /// method start) to where it stopped (the await of <paramref name="stoppedState"/>, or the end).
    /// </summary>
    public IlRanges StepRange(int resumedState, int stoppedState)
    {
        var start = resumedState >= 0 && resumedState < _awaits.Length ? _awaits[resumedState].ResumeOffset : 0;
        var end = stoppedState >= 0 && stoppedState < _awaits.Length ? _awaits[stoppedState].YieldOffset : int.MaxValue;
        return IlRanges.Between(start, end);
    }

    /// <summary>True when an await yields between IL offsets <paramref name="from"/> and <paramref name="to"/> (a loop that awaits).</summary>
    public bool AwaitsBetween(int from, int to) => _awaits.Any(a => a.YieldOffset >= from && a.YieldOffset <= to);

    /// <summary>The IL that runs before the await of <paramref name="state"/>, back to the previous await's resume point.</summary>
    public IlRanges RangeBefore(int state)
    {
        if (state < 0 || state >= _awaits.Length)
            return IlRanges.All;
        var yieldOffset = _awaits[state].YieldOffset;
        var start = 0;
        foreach (var a in _awaits)
        {
            if (a.ResumeOffset <= yieldOffset && a.ResumeOffset > start)
                start = a.ResumeOffset;
        }
        return IlRanges.Between(start, yieldOffset);
    }
}
