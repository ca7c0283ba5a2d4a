using AsyncLens.Runtime;
using AsyncLens.Tracking;
using AsyncLens.Attribution;
using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>
/// The parts of a slow-step report about a method reported in its first step (<see cref="StretchLocator"/>): where
/// the method was created, and its async stack.
/// </summary>
internal sealed partial class ReportBuilder
{
    // A method reported in its first step was created where its caller called it: from the caller's IL if the
    // caller is the user's, else from whatever awaits it; failing both, as any task, from its creation record.
    private SourceLine? CalledFrom(Stretch stretch, StepFinding f)
    {
        if (stretch.Callers.Count == 0)
        {
            var (stack, record) = FoundBox(f, stretch);
            return creationSites.Resolve(record, stretch.Code.Kickoff, stack); // the stretch's own method
        }
        var (caller, callLine) = stretch.Callers[^1];
        if (caller.IsUserCode && callLine is { } at)
            return new SourceLine(at.File, at.Line, caller.Name);
        if (stretch.Box is { } box && AwaitedBy(box, f) is [_, var awaiter, ..] && awaiter.Symbols is { IsUserCode: true } symbols
            && symbols.AwaitLocation(awaiter.State) is { } awaitedAt)
            return new SourceLine(awaitedAt.File, awaitedAt.Line, symbols.Name);
        return FirstStepCreatedAt(stretch.Code, stretch.Box);
    }

    // A step with no method of its own (a delegate task's run, a runtime-async step) is judged with the stack of the box
    // it made after its longest gap, the innermost of a park's chain (made first); the method found may be another box
    // of that park (StretchLocator.OnePark): its own stack is the report's. A delegate run's creation is that box's
    // record; a runtime-async step's stays its context's (its dispatcher task's record says who created it).
    // A request judged at a box it made after its gap (SlowSteps.OnRequestStretch) has that box's stack and record: when
    // its handler is what was found, with no box of its own, that box was made below it (a database client's, where the
    // handler parked), neither its caller nor its creator.
    private static (RawAsyncStack Stack, TaskRecord? Record) FoundBox(StepFinding f, Stretch stretch) =>
        stretch.Box is { } box && (f.Evidence.DelegateRun || f.Evidence.RuntimeAsync)
            ? (box.Stack, f.Evidence.DelegateRun ? box.Record : f.Record)
            : stretch is { How: Found.Handler, Box: null } && f.Evidence is { Unbracketed: true, StateMachine: not null }
                ? (RawAsyncStack.Empty, null)
                : (f.Stack, f.Record);

    // A method in its first step, with its box if it made one, from its creation record (else, called from one place
    // only, that place: a request's handler where the app registered it). A blocking-wait in a handler's own code names
    // it so too.
    private SourceLine? FirstStepCreatedAt(StretchCode code, FirstStep? box) => creationSites.Resolve(box?.Record, code.Kickoff, null);

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
            if (chain[^1].Record?.AwaiterId is { } top && top != 0 && top == f.TaskId)
                frames.AddRange(StepFramesParked(f));
            for (var i = chain.Count - 1; i > 0; i--)
            {
                var at = chain[i].Symbols.AwaitLocation(chain[i].State);
                frames.Add(new AsyncStackFrame(chain[i].Symbols.Name, at?.File, at?.Line));
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
        frames.Add(new AsyncStackFrame(stretch.Code.Name, location?.File, location?.Line));
        return frames;
    }

    // The stack with its leaf, a method reported in its first step, shown where it spent the time. A request's handler
    // (found by its endpoint) is not in the stack of the step that ran it, if any: it is added as the leaf.
    private static IReadOnlyList<AsyncStackFrame> AtLocation(IReadOnlyList<AsyncStackFrame> frames, Stretch stretch, SourceLine? location)
    {
        if (stretch.How == Found.Handler)
            return [.. frames, new AsyncStackFrame(stretch.Code.Name, location?.File, location?.Line)];
        return frames.Count == 0 || location is null ? frames : [.. frames.Take(frames.Count - 1), frames[^1] with { File = location.File, Line = location.Line }];
    }

    // The step's own stack, its method shown at the await it stopped at (read while the step ran, it shows where it resumed).
    private static IEnumerable<AsyncStackFrame> StepFramesParked(StepFinding f)
    {
        var frames = Frames(f.Stack).ToList();
        if (frames.Count > 0 && f.Evidence.StateMachine is { } stateMachine && AsyncMethodSymbols.For(stateMachine).AwaitLocation(f.Evidence.StoppedState) is { } parked)
            frames[^1] = frames[^1] with { File = parked.File, Line = parked.Line };
        return frames;
    }

    // A box the step created, then the one that awaited it, and so on, as far as the step created them.
    private static List<FirstStep> AwaitedBy(FirstStep first, StepFinding f)
    {
        var chain = new List<FirstStep> { first };
        while (chain.Count < 64 && chain[^1].Record?.AwaiterId is { } awaiter && awaiter != 0
            && f.Evidence.FirstSteps.FirstOrDefault(s => s.TaskId == awaiter) is { } next && !chain.Contains(next))
            chain.Add(next);
        return chain;
    }
}
