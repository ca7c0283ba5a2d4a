using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Attribution;

/// <summary>
/// Where a slow stretch spent its time, and whether the evidence names it well enough to report: the one place that
/// decides what a slow step is blamed on (Detection decides only that it was slow). It reads its input as data
/// (<see cref="StretchEvidence"/>, the code's IL and lines), so each rule is tested on recorded stretches.
/// First the step's own code: the call that ran and held the thread (<see cref="FixHints"/>). An async method called
/// from the step runs its first step inside it, up to its first await that does not complete at once, and no event
/// marks where that first step began. So when the step's own code names only a call to an async method of the
/// user's; or names nothing while the step created the box of one of the user's async methods after a gap holding
/// most of its time; or is the framework's, having run an ASP.NET Core handler for most of its time: the time most
/// likely went to that method's first step. If that stretch names a cause of its own, that method is the one
/// reported, from its first line to the await it parked at; and the same question is asked of it, a few levels down.
/// </summary>
internal static class StretchLocator
{
    private const int MaxDepth = 4;

    /// <summary>The stretch to report, or null when the evidence names nothing worth a report.</summary>
    public static Stretch? Locate(StretchEvidence e)
    {
        var used = new Followed(new HashSet<FirstStep>(e.FirstSteps.Where(s => s.TaskId != 0 && s.TaskId == e.TaskId))); // the root's own box
        Stretch? root = null;
        if (e.StateMachine is { } stateMachine)
        {
            var code = StretchCode.For(stateMachine);
            // An unbracketed stretch is read up to the await its method parked at, or to its first await if it moved on.
            var stopped = e.Unbracketed && e.StoppedState == AsyncState.Unknown ? 0 : e.StoppedState;
            root = new Stretch(code, e.TaskId, FirstStep: e.Unbracketed,
                code.AwaitLocation(e.ResumedState) ?? code.StartLocation,
                e.Ongoing ? null : stopped == AsyncState.Done ? code.EndLocation : code.AwaitLocation(stopped),
                Hint(code, e.ResumedState, stopped, e, ongoing: e.Ongoing), [], null) { Ended = !e.Ongoing && stopped == AsyncState.Done };
        }
        else if (e.DelegateCode is { } run)
        {
            // A delegate of the app's, read whole: a cause in its own code is its own work; an async method it called ran
            // its first step below it.
            var code = StretchCode.For(run);
            root = new Stretch(code, 0, FirstStep: false, code.StartLocation, code.EndLocation, Hint(code, -1, AsyncState.Done, e, ongoing: false), [], null);
        }
        var path = new List<Stretch>();
        if (root is not null)
            path.Add(root);
        while (path.Count <= MaxDepth && Next(path.Count > 0 ? path[^1] : null, e, used) is { } next)
            path.Add(next);
        // The deepest stretch whose own code names a cause; else a handler of the app's that held the time with no call
        // to name (HeldByItsOwnCode); else the step's own.
        var found = path.Count > 0 && path[^1] is { How: Found.Handler, Hint: null } handler ? handler : root;
        for (var i = path.Count - 1; i >= 0; i--)
        {
            if (path[i] != root && path[i].Hint is { AsyncCallee: null })
            {
                found = path[i];
                break;
            }
        }
        // A delegate task is where blocking work belongs: its own code is never what is reported.
        if (e.DelegateCode is not null && ReferenceEquals(found, root))
            return null;
        return found is not null && EnoughEvidence(e, found) ? found : null;
    }

    // Stretches that also hold the framework's own work need a cause named in the user's code. Unbracketed ones
    // (Main's first step: loading, type initialization, host building; a request's start: parsing it): a blocking
    // call, or one call of the user's or a loop inside an async method it called (one call of the user's in Main
    // itself, CreateHostBuilder().Build(), is most often just startup). A framework step while the process warms
    // up: a blocking call in a method of the user's it ran. A request's handler, found by its endpoint, held the time
    // after the match: it is reported where its code names a cause (while the process warms up, a blocking call or a
    // synchronous API with an async twin: a handler's first `db.Database.ExecuteSqlRaw(...)` blocked 0.3 s in a 1.9 s
    // first request, and went unreported).
    private static bool EnoughEvidence(StretchEvidence e, Stretch stretch)
    {
        if (stretch.How == Found.Handler)
            return stretch.Hint is { AsyncCallee: null } hint ? !e.WarmUp || hint.Kind is HintKind.Blocking or HintKind.AsyncTwin : HeldByItsOwnCode(e, stretch);
        var called = stretch.Callers.Count > 0 || ((e.RuntimeAsync || e.DelegateRun) && stretch.FirstStep);
        // A step of framework code in which nothing of the user's was found to run (no box of theirs, no handler, no
        // call its own code names): there is nothing to name. Under load such a step (Kestrel's accept loop, 0.16 s on
        // a healthy app) was slowed by the machine or the runtime; a handler it ran inline is found above.
        if (!called && stretch.Hint is null && !stretch.Code.IsUserCode)
            return false;
        if (e.Unbracketed)
            return stretch.Hint is { Kind: HintKind.Blocking } || (called && stretch.Hint is { Kind: HintKind.UserCall or HintKind.Loop });
        // A step whose own code could not take the time (no loop, no call but the await machinery) and that ran no
        // method of the user's: the thread waited for the runtime or the machine, not for the code.
        if (!called && e.FirstSteps.Count == 0 && stretch.Code is { Body: { } body, Async: { } symbols }
            && StretchCode.CannotTakeLong(body, symbols.StepRange(e.ResumedState, e.Ongoing ? AsyncState.Done : e.StoppedState)))
            return false;
        if (!e.WarmUp)
            return true;
        // A framework step while the process warms up (Kestrel's request loop): a blocking call in a method of the
        // user's it ran. A delegate task's run is not one: the first step of the user's async method it ran is the
        // user's own code, judged as below (a Hangfire job's 0.25 s computing loop before its first await, into a
        // database client opening its first connection, went unreported).
        if ((e.StateMachine is not { } root || !StretchCode.For(root).IsUserCode) && !(e.DelegateRun && called))
            return called && stretch.Hint is { Kind: HintKind.Blocking };
        // A step of the user's own code while the process warms up (in it, or in an async method of the user's it
        // called): only a cause in the app's own code counts (a blocking call, a synchronous API with an async twin, a
        // computing call such as SHA256.HashData in its loop, a loop, a call of the app's, not an async method of the app's
        // whose first step named nothing); the first run of a library's code path (a database client opening its first
        // connections, building its readers) is warm-up.
        return stretch.Code.IsUserCode && stretch.Hint is { Kind: HintKind.Blocking or HintKind.AsyncTwin or HintKind.CpuBound or HintKind.Loop }
            || (stretch.Hint is { Kind: not HintKind.AsyncCallee } named && stretch.Code.Body is { } code && CalledAt(code, named.Offset) is { } target
                && CodeOrigin.Kind(target.Module.Assembly) == CodeKind.User);
    }

    // A handler of the app's that held the stretch (found by its endpoint, Next) whose code names no one call (a method of
    // the app's beside a package's, FastEndpoints' `Route<int>("id")`: nothing tells which took the time) is reported
    // with what the time says where it says the thread computed, as a step of the app's own is, unless the process warms
    // up: a FastEndpoints endpoint class rendering a statement in a method of the app's, 0.2-1 s on a CPU, was never
    // reported. Not where it says blocked: a handler whose code names nothing that can block (LINQ over a list in memory)
    // did not block the thread.
    private static bool HeldByItsOwnCode(StretchEvidence e, Stretch stretch) => stretch.Hint is null && HeldByItsOwnCode(e, stretch.Code);

    private static bool HeldByItsOwnCode(StretchEvidence e, StretchCode code) =>
        !e.WarmUp && (code.Kickoff ?? code.Body) is { } method && CodeOrigin.Kind(method.Module.Assembly) == CodeKind.User
        && e.Time.MostlyOnCpu;

    // A delegate task's run while the process warms up: the first step of an async method of the app's it ran is the
    // app's own code, and a cause in that code counts as it does in a step of the user's (EnoughEvidence).
    private static bool OwnCauseInDelegateRun(StretchEvidence e, StretchCode code, Hint hint) =>
        e.DelegateRun && !e.Unbracketed && code.Kickoff is { } kickoff && CodeOrigin.Kind(kickoff.Module.Assembly) == CodeKind.User
        && hint.Kind is HintKind.Blocking or HintKind.AsyncTwin or HintKind.CpuBound or HintKind.Loop;

    private static MethodBase? CalledAt(MethodBase method, int offset) =>
        MethodSymbols.Calls(method).FirstOrDefault(c => c.Offset == offset).Target;

    private static Stretch? Next(Stretch? at, StretchEvidence e, Followed used)
    {
        // A cause in its own code ends the walk down, unless that code is a package's: a message framework's queue loop
        // (Wolverine's Block<T>.processAsync) names a call of its own, while the handler it ran inline, a method of the
        // app's whose box it created after a gap, blocked (0.4 s in a Thread.Sleep before its first await, unreported).
        if (at?.Hint is { AsyncCallee: null } && (at.Code.Kickoff is not { } kickoff || CodeOrigin.Kind(kickoff.Module.Assembly) != CodeKind.Package))
            return null;
        // The async method the IL names, with its box if the step created one: followed even when its own first
        // stretch names nothing, for what it called in turn.
        if (at?.Hint?.AsyncCallee is { } callee)
        {
            if (callee.GetCustomAttribute<AsyncStateMachineAttribute>()?.StateMachineType is not { } type)
                return null;
            var named = e.FirstSteps.FirstOrDefault(s => !used.Boxes.Contains(s) && Definition(s.StateMachine) == Definition(type));
            return Descend(at, e, used, StretchCode.For(named?.StateMachine ?? type), named, Found.Called);
        }
        // Else the boxes the step created after a gap of at least half its time, the longest gap first; with each, the
        // boxes the same park made (OnePark).
        var floor = (long)(e.Seconds * TimeSpan.TicksPerSecond / 2);
        foreach (var first in e.FirstSteps.Where(s => s.GapTicks >= floor && !used.Boxes.Contains(s)).OrderByDescending(s => s.GapTicks))
        {
            foreach (var box in OnePark(e.FirstSteps, first, floor))
            {
                if (!used.Boxes.Contains(box) && Descend(at, e, used, StretchCode.For(box.StateMachine), box, Found.AfterGap) is { } found)
                    return found;
            }
        }
        // Else the ASP.NET Core handler it ran for at least half its time (a request's, or in a step of code that names
        // nothing: Kestrel's request loop, a middleware that ran the rest of the pipeline inline); with its box if it parked.
        if (e.Handler is { } handler && handler.Ticks >= floor && !used.Handler)
        {
            var code = StretchCode.For(handler.Method);
            var box = code.Async is { } symbols ? e.FirstSteps.FirstOrDefault(s => !used.Boxes.Contains(s) && Definition(s.StateMachine) == Definition(symbols.StateMachineType)) : null;
            used.Handler = true;
            return Descend(at, e, used, code, box, Found.Handler);
        }
        return null;
    }

    // A chain parks from its innermost method out, each caller's box made as its await unwinds (microseconds apart, a
    // few milliseconds when a caller's rest is compiled): the gap before the first box made holds the first steps of
    // all of them, and the method the step called is the last made. The app's own methods are asked first, the
    // outermost first (a Hangfire job computing 0.25 s before its first await, into Npgsql's first connection: the gap
    // was the innermost box's, Npgsql's `LoadBackendTypes`, which names nothing; the job went unreported).
    private static IEnumerable<FirstStep> OnePark(IReadOnlyList<FirstStep> boxes, FirstStep first, long floor)
    {
        var from = 0;
        while (!ReferenceEquals(boxes[from], first))
            from++;
        var to = from + 1;
        while (to < boxes.Count && boxes[to].GapTicks * 4 < floor)
            to++;
        return Enumerable.Range(from, to - from)
            .OrderBy(i => CodeOrigin.Kind(boxes[i].StateMachine.Assembly) == CodeKind.User ? 0 : 1)
            .ThenByDescending(i => i)
            .Select(i => boxes[i]);
    }

    private static Stretch? Descend(Stretch? at, StretchEvidence e, Followed used, StretchCode code, FirstStep? first, Found how)
    {
        // Its first step: from its start to the await it parked at (read at the step's end: if it had moved on
        // by then, most likely its first await); without a box it ran to completion, or still runs.
        var parked = first is null ? ParkedBelow(e, code) : AsyncState.IsParked(first.State) ? first.State : 0;
        var ongoing = e.Ongoing && first is null;
        var hint = Hint(code, -1, parked, e, ongoing);
        // A box is its method's last call's. Called in a loop the stretch may have gone round, the earlier calls left
        // no box: their awaits completed at once and they ran the whole method. When the box's first step names nothing
        // and the time says how the thread was held (blocked, or on a CPU: the caller's code was found to hold nothing
        // that could), the time went to those (DbWorker count-sync under load: two 0.3 s blocking counts ran whole, the
        // third parked at its first await; the stretch was judged on that first await alone, and not reported).
        if (first is not null && hint is null && how == Found.Called && at?.Hint is { MayRepeat: true } && (e.Time.MostlyBlocked || e.Time.MostlyOnCpu))
        {
            used.Boxes.Add(first);
            (first, parked, ongoing) = (null, AsyncState.Done, false);
            hint = Hint(code, -1, parked, e, ongoing);
        }
        // A gap is evidence only with a cause in the method's own code; in Main's first step, which also holds the
        // process's startup, and in a framework step while the process warms up, only with a blocking call. A handler
        // ran for the time after its endpoint matched: it is followed for a cause in its code or in an async method it
        // called (while the process warms up, a blocking call).
        if (how == Found.AfterGap && (hint is not { AsyncCallee: null } || (e.OnlyBlockingCauses && hint.Kind != HintKind.Blocking && !OwnCauseInDelegateRun(e, code, hint))))
            return null;
        if (how == Found.Handler && (hint is null ? !HeldByItsOwnCode(e, code) : e.WarmUp && hint.Kind is not (HintKind.Blocking or HintKind.AsyncTwin or HintKind.AsyncCallee)))
            return null;
        if (first is not null)
            used.Boxes.Add(first);
        var stoppedAt = first is not null || parked != AsyncState.Done ? code.AwaitLocation(parked) : ongoing ? null : code.EndLocation;
        var callLine = how != Found.Called || at is null ? null : at.Code.LineAt(at.Hint!.Offset);
        IReadOnlyList<(StretchCode Method, SourceLocation? CallLine)> callers = at is null ? [] : [.. at.Callers, (at.Code, callLine)];
        return new Stretch(code, first?.TaskId ?? 0, FirstStep: true, code.StartLocation, stoppedAt, hint, callers, first)
        {
            How = how,
            Ended = first is null && parked == AsyncState.Done && !ongoing,
        };
    }

    private static Hint? Hint(StretchCode code, int resumedState, int stoppedState, StretchEvidence e, bool ongoing)
    {
        if (code.Paths(resumedState, stoppedState, ongoing, e.Threw) is not { } paths)
            return null;
        // A call whose method's box the stretch created ran (or, on the async events alone, whose method it was found
        // awaiting): and so did what lies on every path through it.
        foreach (var symbols in e.FirstSteps.Select(box => box.Symbols).Concat(e.ParkedBelow.Select(p => AsyncMethodSymbols.For(p.StateMachine))))
        {
            var sites = code.Body is { } body && symbols.Kickoff is { } kickoff
                ? MethodSymbols.Calls(body).Where(c => !c.TakesAddress && paths.MayHaveRun(c.Offset) && MethodSymbols.SameDefinition(c.Target, kickoff)).ToList()
                : [];
            if (sites.Count == 1)
                paths = paths.Knowing(sites[0].Offset);
        }
        var hint = FixHints.ForStretch(code, paths, e);
        return hint is { AsyncCallee: not null } ? hint with { MayRepeat = paths.MayRunAgain(hint.Offset) } : hint;
    }

    // Where a method known only from the IL (no box) parked, as its caller's next resume showed it; else it completed.
    private static int ParkedBelow(StretchEvidence e, StretchCode code)
    {
        foreach (var (stateMachine, state) in e.ParkedBelow)
        {
            if (code.Async is { } symbols && Definition(stateMachine) == Definition(symbols.StateMachineType) && AsyncState.IsParked(state))
                return state;
        }
        return AsyncState.Done;
    }

    /// <summary>A generic state machine's definition (its boxes are of its instantiations).</summary>
    internal static Type Definition(Type type) => type.IsGenericType ? type.GetGenericTypeDefinition() : type;

    // What the walk down has followed already: boxes, and the handler.
    private sealed class Followed(HashSet<FirstStep> boxes)
    {
        public HashSet<FirstStep> Boxes { get; } = boxes;

        public bool Handler { get; set; }
    }
}

/// <summary>
/// The stretch a slow-step report is about: the step's own method, or (<see cref="FirstStep"/>) the first step of
/// a method it called. <see cref="Callers"/> are the methods above it, each with the line it called the next one
/// (null where the method was found from its box or its endpoint rather than from the caller's IL); <see cref="Box"/>
/// is its box, when it had one.
/// </summary>
internal sealed record Stretch(
    StretchCode Code,
    int TaskId,
    bool FirstStep,
    SourceLocation? ResumedAt,
    SourceLocation? StoppedAt,
    Hint? Hint,
    IReadOnlyList<(StretchCode Method, SourceLocation? CallLine)> Callers,
    FirstStep? Box)
{
    /// <summary>How the stretch was found: the step's own, or a first step below it.</summary>
    public Found How { get; init; } = Found.Own;

    /// <summary>It ran to the method's end (<see cref="StoppedAt"/> is the end), rather than to an await.</summary>
    public bool Ended { get; init; }
}

/// <summary>How the stretch a report is about was found.</summary>
internal enum Found : byte
{
    /// <summary>The step's own code.</summary>
    Own,

    /// <summary>The first step of an async method the stretch's IL called.</summary>
    Called,

    /// <summary>The first step of a method whose box the step created after a gap holding most of its time.</summary>
    AfterGap,

    /// <summary>The ASP.NET Core handler whose endpoint matched in the stretch, run for most of its time.</summary>
    Handler,
}
