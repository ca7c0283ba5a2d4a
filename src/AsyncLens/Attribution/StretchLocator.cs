using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>
/// Where a slow step spent its time. First the step's own code: the call its IL names (<see cref="FixHints"/>).
/// An async method called from the step runs its first step inside it, up to its first await that does not
/// complete at once, and no event marks where that first step began. So when the step's own code names only a
/// call to an async method of the user's, or names nothing while the step created the box of one of the user's
/// async methods after a gap holding most of its time, the time most likely went to that method's first step.
/// If that stretch names a cause of its own, that method is the one reported, from its first line to the await
/// it parked at; and the same question is asked of it, a few levels down.
/// </summary>
internal static class StretchLocator
{
    private const int MaxDepth = 4;

    public static Stretch Locate(StepFinding f)
    {
        var symbols = AsyncMethodSymbols.For(f.StateMachine);
        // An unbracketed stretch is read up to the await its method parked at, or to its first await if it moved on.
        var stopped = f.Ongoing ? -2 : f.Unbracketed && f.StoppedState == BoxInfo.UnknownState ? 0 : f.StoppedState;
        var root = new Stretch(symbols, f.TaskId, FirstStep: f.Unbracketed,
            symbols.AwaitLocation(f.ResumedState) ?? symbols.StartLocation,
            f.Ongoing ? null : stopped == -2 ? symbols.EndLocation : symbols.AwaitLocation(stopped),
            Hint(symbols, f.ResumedState, stopped), [], null);
        var path = new List<Stretch> { root };
        var used = new HashSet<FirstStep>(f.FirstSteps.Where(s => s.Record.Id == f.TaskId)); // the root's own box
        while (path.Count <= MaxDepth && Next(path[^1], f, used) is { } next)
            path.Add(next);
        // The deepest stretch whose own code names a cause; else the step's own.
        for (var i = path.Count - 1; i > 0; i--)
        {
            if (path[i].Hint is { AsyncCallee: null })
                return path[i];
        }
        return root;
    }

    private static Stretch? Next(Stretch at, StepFinding f, HashSet<FirstStep> used)
    {
        if (at.Hint is { AsyncCallee: null })
            return null; // a cause in its own code
        // The async method the IL names, with its box if the step created one: followed even when its own first
        // stretch names nothing, for what it called in turn.
        if (at.Hint?.AsyncCallee is { } callee)
        {
            if (callee.GetCustomAttribute<AsyncStateMachineAttribute>()?.StateMachineType is not { } type)
                return null;
            var named = f.FirstSteps.FirstOrDefault(s => !used.Contains(s) && Definition(s.Box.StateMachineType) == Definition(type));
            return Descend(at, f, used, named?.Box.Symbols ?? AsyncMethodSymbols.For(type), named, viaGap: false);
        }
        // Else the boxes the step created after a gap of at least half its time, the longest gap first.
        var floor = (long)(f.Seconds * TimeSpan.TicksPerSecond / 2);
        foreach (var first in f.FirstSteps.Where(s => s.GapTicks >= floor && !used.Contains(s)).OrderByDescending(s => s.GapTicks))
        {
            if (Descend(at, f, used, first.Box.Symbols, first, viaGap: true) is { } found)
                return found;
        }
        return null;
    }

    private static Stretch? Descend(Stretch at, StepFinding f, HashSet<FirstStep> used, AsyncMethodSymbols symbols, FirstStep? first, bool viaGap)
    {
        // Its first step: from its start to the await it parked at (read at the step's end: if it had moved on
        // by then, most likely its first await); without a box it ran to completion, or still runs.
        var parked = first is null ? -2 : first.State >= 0 ? first.State : 0;
        var hint = Hint(symbols, -1, parked);
        // A gap is evidence only with a cause in the method's own code; in Main's first step, which also holds the
        // process's startup, and in a framework step while the process warms up, only with a blocking call.
        if (viaGap && (hint is not { AsyncCallee: null } || (f.OnlyBlockingCauses && hint.Kind != HintKind.Blocking)))
            return null;
        if (first is not null)
            used.Add(first);
        var stoppedAt = first is not null ? symbols.AwaitLocation(parked) : f.Ongoing ? null : symbols.EndLocation;
        var callLine = viaGap ? null : at.Symbols.LineAt(at.Hint!.Offset);
        return new Stretch(symbols, first?.Record.Id ?? 0, FirstStep: true, symbols.StartLocation, stoppedAt, hint,
            [.. at.Callers, (at.Symbols, callLine)], first);
    }

    private static Hint? Hint(AsyncMethodSymbols symbols, int resumedState, int stoppedState) =>
        symbols.MoveNext is { } moveNext ? FixHints.ForStretch(moveNext, symbols.StepRange(resumedState, stoppedState), symbols.AwaitsBetween) : null;

    private static Type Definition(Type type) => type.IsGenericType ? type.GetGenericTypeDefinition() : type;
}

/// <summary>
/// The stretch a slow-step report is about: the step's own method, or (<see cref="FirstStep"/>) the first step of
/// an async method it called. <see cref="Callers"/> are the methods above it, each with the line it called the
/// next one (null where the method was found from its box rather than from the caller's IL); <see cref="Box"/>
/// is its box, when it had one.
/// </summary>
internal sealed record Stretch(
    AsyncMethodSymbols Symbols,
    int TaskId,
    bool FirstStep,
    SourceLocation? ResumedAt,
    SourceLocation? StoppedAt,
    Hint? Hint,
    IReadOnlyList<(AsyncMethodSymbols Method, SourceLocation? CallLine)> Callers,
    FirstStep? Box);
