using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>
/// The parts of a slow-step report about a method reported in its first step (<see cref="StretchLocator"/>): when
/// such a finding has evidence enough, where the method was created, and its async stack.
/// </summary>
internal sealed partial class ReportBuilder
{
    // Stretches that also hold the framework's own work need a cause named in the user's code. Unbracketed ones
    // (Main's first step: loading, type initialization, host building; a request's start: parsing it): a blocking
    // call, or one call of the user's or a loop inside an async method it called (one call of the user's in Main
    // itself, CreateHostBuilder().Build(), is most often just startup). A framework step while the process warms
    // up: a blocking call in a method of the user's it ran.
    private static bool EnoughEvidence(StepFinding f, Stretch stretch)
    {
        var called = stretch.Callers.Count > 0;
        if (f.Unbracketed)
            return stretch.Hint is { Kind: HintKind.Blocking } || (called && stretch.Hint is { Kind: HintKind.UserCall or HintKind.Loop });
        // A step whose own code could not take the time (no loop, no call but the await machinery) and that ran no
        // method of the user's: the thread waited for the runtime or the machine, not for the code.
        if (!called && f.FirstSteps.Count == 0 && stretch.Symbols.MoveNext is { } moveNext
            && StretchCode.CannotTakeLong(moveNext, stretch.Symbols.StepRange(f.ResumedState, f.Ongoing ? -2 : f.StoppedState)))
            return false;
        if (!f.WarmUp)
            return true;
        if (called || !stretch.Symbols.IsUserCode)
            return called && stretch.Hint is { Kind: HintKind.Blocking };
        // A step of the user's own method while the process warms up: only a cause in the app's own code counts (a
        // blocking call, a synchronous API with an async twin, a loop, a call of the app's); the first run of a
        // library's code path (a database client opening its first connections, building its readers) is warm-up.
        return stretch.Hint is { Kind: HintKind.Blocking or HintKind.AsyncTwin or HintKind.Loop }
            || (stretch.Hint is { } hint && stretch.Symbols.MoveNext is { } code && CalledAt(code, hint.Offset) is { } target
                && CodeOrigin.Kind(target.Module.Assembly) == CodeKind.User);
    }

    private static System.Reflection.MethodBase? CalledAt(System.Reflection.MethodBase method, int offset) =>
        MethodSymbols.Calls(method).FirstOrDefault(c => c.Offset == offset).Target;

    // A method reported in its first step was created where its caller called it: from the caller's IL if the
    // caller is the user's, else from whatever awaits it; failing both, as any task, from its creation record.
    private SourceLine? CalledFrom(Stretch stretch, StepFinding f)
    {
        if (stretch.Callers.Count == 0)
            return creationSites.Resolve(f.Record, stretch.Symbols.Kickoff, f.Stack); // the stretch's own method
        var (caller, callLine) = stretch.Callers[^1];
        if (caller.IsUserCode && callLine is { } at)
            return new SourceLine(at.File, at.Line, caller.Name);
        if (stretch.Box is { } box && AwaitedBy(box, f) is [_, var awaiter, ..] && awaiter.Box.Symbols is { IsUserCode: true } symbols
            && symbols.AwaitLocation(awaiter.State) is { } awaitedAt)
            return new SourceLine(awaitedAt.File, awaitedAt.Line, symbols.Name);
        return creationSites.Resolve(stretch.Box?.Record, stretch.Symbols.Kickoff, null);
    }

    // The async stack of a method reported in its first step. With a box: it, then what awaited it as the boxes
    // the step created say (each state read as the step ended), then the step's own stack if the step's method
    // awaited the last of them. Without one (found from the caller's IL): the step's stack, the step's method at
    // the call it made, then each method called down to it. The method itself at the location.
    private static List<AsyncStackFrame> FirstStepFrames(StepFinding f, Stretch stretch, SourceLine? location)
    {
        var frames = new List<AsyncStackFrame>();
        if (stretch.Box is { } box)
        {
            var chain = AwaitedBy(box, f);
            if (chain[^1].Record.AwaiterId is var top && top != 0 && top == f.TaskId)
                frames.AddRange(StepFramesParked(f));
            for (var i = chain.Count - 1; i > 0; i--)
            {
                var at = chain[i].Box.Symbols.AwaitLocation(chain[i].State);
                frames.Add(new AsyncStackFrame(chain[i].Box.Symbols.Name, at?.File, at?.Line));
            }
        }
        else
        {
            frames.AddRange(Frames(f.Stack));
            if (frames.Count > 0)
                frames.RemoveAt(frames.Count - 1);
            foreach (var (method, callLine) in stretch.Callers)
                frames.Add(new AsyncStackFrame(method.Name, callLine?.File, callLine?.Line));
        }
        frames.Add(new AsyncStackFrame(stretch.Symbols.Name, location?.File, location?.Line));
        return frames;
    }

    // The stack with its leaf, a method reported in its first step, shown where it spent the time.
    private static IReadOnlyList<AsyncStackFrame> AtLocation(IReadOnlyList<AsyncStackFrame> frames, SourceLine? location) =>
        frames.Count == 0 || location is null ? frames : [.. frames.Take(frames.Count - 1), frames[^1] with { File = location.File, Line = location.Line }];

    // The step's own stack, its method shown at the await it stopped at (read while the step ran, it shows where it resumed).
    private static IEnumerable<AsyncStackFrame> StepFramesParked(StepFinding f)
    {
        var frames = Frames(f.Stack).ToList();
        if (frames.Count > 0 && AsyncMethodSymbols.For(f.StateMachine).AwaitLocation(f.StoppedState) is { } parked)
            frames[^1] = frames[^1] with { File = parked.File, Line = parked.Line };
        return frames;
    }

    // A box the step created, then the one that awaited it, and so on, as far as the step created them.
    private static List<FirstStep> AwaitedBy(FirstStep first, StepFinding f)
    {
        var chain = new List<FirstStep> { first };
        while (chain.Count < 64 && f.FirstSteps.FirstOrDefault(s => s.Record.Id == chain[^1].Record.AwaiterId) is { } next && !chain.Contains(next))
            chain.Add(next);
        return chain;
    }
}
