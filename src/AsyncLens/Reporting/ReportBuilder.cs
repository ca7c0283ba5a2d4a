using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using AsyncLens.Attribution;
using AsyncLens.Inventory;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>Turns a <see cref="Finding"/> into an <see cref="AsyncReport"/>: names, lines, creation site, fix.</summary>
internal sealed partial class ReportBuilder(CreationSites creationSites)
{
    /// <summary>The report, or null when the finding turns out to name nothing worth one (see <see cref="StretchEvidence.Unbracketed"/>).</summary>
    public AsyncReport? Build(Finding finding) => finding switch
    {
        StepFinding step => Step(step),
        WaitFinding wait => Wait(wait),
        FaultFinding fault => Fault(fault),
        AsyncVoidFinding crash => AsyncVoid(crash),
        LostFinding lost => Lost(lost),
        CleanupFinding cleanup => Cleanup(cleanup),
        CollectedFinding collected => Collected(collected),
        _ => throw new ArgumentOutOfRangeException(nameof(finding)),
    };

    /// <summary>
    /// Whether a slow stretch is worth a report, and the stretch it is about: its evidence without the waits for the
    /// runtime's registry and judged for warm-up, then located (<see cref="StretchLocator"/>); null when it names nothing
    /// worth one. The one judgement of a step, for its report in full and for one written short at exit.
    /// </summary>
    public static (StretchEvidence Evidence, Stretch Stretch)? Judge(StepFinding f)
    {
        var evidence = f.Evidence;
        if (evidence.WithoutRegistryWaits(Tracking.RegistryWaits.Within(evidence.OsThreadId, evidence.FromTicks, evidence.ToTicks)) is not { } unwaited)
            return null;
        var e = unwaited.Judged(Tracking.EngineCompilation.During(evidence.FromTicks, evidence.ToTicks));
        return StretchLocator.Locate(e) is { } stretch ? (e, stretch) : null;
    }

    private AsyncReport? Step(StepFinding f)
    {
        if (Judge(f) is not var (e, stretch))
            return null;
        var symbols = stretch.Code;
        var resumedAt = Line(stretch.ResumedAt);
        var location = stretch.Hint is not null && symbols.LineAt(stretch.Hint.Offset) is { } callLine ? Line(callLine) : resumedAt;
        var seconds = Seconds(e.Seconds);
        var since = stretch.FirstStep ? ", from its start" : "";
        var task = stretch.TaskId == 0 ? "" : $" (task {stretch.TaskId})"; // 0: it never awaited, so no task was made
        var thread = f.ThreadId > 0 ? $" on thread {f.ThreadId}" : ""; // 0: known by its OS id alone (the async events alone)
        var message = e.Ongoing
            ? $"{symbols.Name} has run {seconds} s{thread} without yielding{since}, and still is{task}"
            : $"{symbols.Name} ran {seconds} s{thread} without yielding{since}{task}";
        return new AsyncReport
        {
            Kind = e.Ongoing ? AsyncReportKinds.HungStep : AsyncReportKinds.SlowStep,
            TaskId = stretch.TaskId,
            ThreadId = f.ThreadId > 0 ? f.ThreadId : null,
            Method = symbols.Name,
            Location = location,
            ResumedAt = resumedAt,
            StoppedAt = Line(stretch.StoppedAt),
            Ended = stretch.Ended,
            FirstStep = stretch.FirstStep,
            CreatedAt = stretch.FirstStep ? CalledFrom(stretch, f) : creationSites.Resolve(f.Record, symbols.Kickoff, f.Stack),
            DurationSeconds = Math.Round(e.Seconds, 3),
            Ongoing = e.Ongoing,
            AsyncStack = stretch.Callers.Count > 0 ? FirstStepFrames(f, stretch, location) : stretch.FirstStep ? AtLocation(Frames(FoundBox(f, stretch).Stack), stretch, location) : Frames(f.Stack),
            Message = message,
            Fix = stretch.Hint?.Fix ?? (symbols.IsUserCode ? FixHints.Unnamed(e.Time) : FixHints.InFramework),
            Timestamp = f.Timestamp,
        };
    }

    private AsyncReport Wait(WaitFinding f)
    {
        var stack = f.WaitStack.Select(frame => (frame.GetMethod(), frame.GetILOffset())).ToList();
        var handler = Tracking.RequestEndpoints.HandlerOf(f.Endpoint);
        var waiter = WaitSites.Waiter(stack, handler);
        var location = waiter is { } w ? Line(MethodSymbols.LineAt(w.Method, w.ILOffset)) : null;
        // The method of the user's that waited is the one named, and the leaf of its stack, unless it is the step's
        // own (Kestrel's request loop, or middleware of the user's, may have run a handler inline).
        var own = f.Step?.Box is { } box && (waiter is null || box.Symbols.MoveNext is { } moveNext && MethodSymbols.SameDefinition(waiter.Value.Method, moveNext));
        var method = own ? f.Step!.Box!.Symbols.Name : waiter is { } frame ? MethodNames.Format(frame.Method) : "(unknown)";
        var target = DescribeTarget(f.WaitedTask, f.WaitedState, f.TaskId, f.WaitedChain);
        var seconds = Seconds(f.Seconds);
        // A request's handler that waited in its own code, run inline in a step not its own (or in none: a request begun
        // outside any step), was created where a slow-step of its first step says: where the app registered it
        // (`app.MapGet(...)`), not where the step it ran in was.
        var createdAt = !own && handler is not null && waiter is { } by && StretchCode.For(handler) is { Body: { } body } code && MethodSymbols.SameDefinition(by.Method, body)
            ? FirstStepCreatedAt(code, null)
            : f.Step is { } s ? creationSites.Resolve(s.Record, s.Box?.Symbols.Kickoff ?? s.Code, s.Stack) : null;
        IReadOnlyList<AsyncStackFrame> asyncStack = own || waiter is null || f.Step?.Code is not null
            ? (f.Step is { } st ? Frames(st, stack) : [])
            : [.. f.Step is { } outer ? Frames(outer, stack) : [], new AsyncStackFrame(method, location?.File, location?.Line)];
        if (f.Stuck is var (stuckBox, stuckState))
            return Deadlock(f, stuckBox, stuckState, method, location, target, createdAt, asyncStack);
        var message = f.Ongoing
            ? $"thread {f.ThreadId} has been blocked {seconds} s waiting synchronously for {target.Description} in {method}, and still is"
            : $"thread {f.ThreadId} blocked {seconds} s waiting synchronously for {target.Description} in {method}";
        return new AsyncReport
        {
            Kind = AsyncReportKinds.BlockingWait,
            TaskId = f.Step?.TaskId ?? f.TaskId,
            ThreadId = f.ThreadId,
            Method = method,
            Location = location,
            CreatedAt = createdAt,
            DurationSeconds = Math.Round(f.Seconds, 3),
            Ongoing = f.Ongoing,
            AsyncStack = asyncStack,
            WaitingOn = target,
            Message = message,
            Fix = waiter is { } at && FixHints.ForWaitInside(at.Method, at.ILOffset) is { } inside ? inside : FixHints.BlockingWait,
            Timestamp = f.Timestamp,
        };
    }

    private AsyncReport Fault(FaultFinding f)
    {
        var symbols = f.Box?.Symbols;
        var code = symbols?.Kickoff ?? f.Action?.Method;
        var ex = f.Exception;
        var faultedCode = symbols?.MoveNext ?? (MethodBase?)f.Action?.Method;
        var throwSite = ex is null ? null : ThrowSite(ex, faultedCode?.Module.Assembly);
        var method = symbols?.Name ?? (f.Action is { } a ? MethodNames.Format(a.Method) : FaultedMethodFromStack(f.FaultStack) ?? throwSite?.Method ?? "(unknown)");
        // The faulted method's own line in the exception's stack: where the exception went through it (the await of
        // the library call that threw), not a line of the library's.
        var ownLine = ex is null || faultedCode is null ? null : LineIn(ex, faultedCode) ?? throwSite;
        var createdAt = f.ForgottenAt is { } forgot ? new SourceLine(forgot.File, forgot.Line)
            : creationSites.Resolve(f.Record, code, null) ?? CreatorFromStack(f.FaultStack);
        var what = ex is null ? "an exception" : $"{ex.GetType().Name}: {FirstLine(ex.Message)}";
        var forgotten = f.ForgottenAt is null ? null
            : f.ForgottenAt.OnError is null ? $"{method} faulted with {what}; it was forgotten at {Path.GetFileName(createdAt!.File)}:{createdAt.Line} by `.Forget()`, with no error handler (task {f.TaskId})"
            : $"the error handler given to `.Forget()` at {Path.GetFileName(createdAt!.File)}:{createdAt.Line} threw {what} (task {f.TaskId})";
        return new AsyncReport
        {
            Kind = AsyncReportKinds.UnobservedException,
            TaskId = f.TaskId,
            Method = method,
            Location = throwSite,
            CreatedAt = createdAt,
            AsyncStack = (ownLine ?? throwSite) is { } line ? [new AsyncStackFrame(method, line.File, line.Line)] : [],
            Exception = ex is null ? null : new ExceptionInfo(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex.StackTrace),
            Message = forgotten ?? $"{method} faulted with {what}, and nothing awaited it or read its exception (task {f.TaskId})",
            Fix = f.ForgottenAt is null ? FixHints.Unobserved : FixHints.Forgotten,
            Timestamp = f.Timestamp,
        };
    }

    private AsyncReport Collected(CollectedFinding f)
    {
        var (leafId, leafBox, leafState) = f.Chain[0];
        var symbols = leafBox.Symbols;
        var parkedAt = Line(symbols.AwaitLocation(leafState));
        var stack = new List<AsyncStackFrame>();
        for (var i = f.Chain.Count - 1; i >= 0; i--)
        {
            var (_, box, state) = f.Chain[i];
            var at = box.Symbols.AwaitLocation(state);
            stack.Add(new AsyncStackFrame(box.Symbols.Name, at?.File, at?.Line));
        }
        var where = parkedAt is null ? "an await" : $"the await at {Path.GetFileName(parkedAt.File)}:{parkedAt.Line}";
        return new AsyncReport
        {
            Kind = AsyncReportKinds.PendingCollected,
            TaskId = leafId,
            Method = symbols.Name,
            Location = parkedAt,
            CreatedAt = creationSites.Resolve(f.Record, symbols.Kickoff, null),
            AsyncStack = stack,
            Message = $"{symbols.Name} was garbage-collected while still pending, parked at {where} that can never finish (task {leafId})",
            Fix = FixHints.PendingCollected,
            Timestamp = f.Timestamp,
        };
    }

    /// <summary>The awaiter chain, root first. Combinators show as their API name, without a line.</summary>
    public static IReadOnlyList<AsyncStackFrame> Frames(RawAsyncStack stack)
    {
        var frames = new List<AsyncStackFrame>(stack.Frames.Length);
        for (var i = stack.Frames.Length - 1; i >= 0; i--)
        {
            var raw = stack.Frames[i];
            if (raw.Chain is { } chained)
            {
                var text = NodeTexts.Frame(chained, resuming: false);
                frames.Add(new AsyncStackFrame(text.Title, text.At?.File, text.At?.Line));
                continue;
            }
            if (raw.Box is null)
            {
                frames.Add(new AsyncStackFrame(raw.DelegateMethod is { } m ? MethodNames.Format(m) : CombinatorName(raw.TaskType), null, null));
                continue;
            }
            var symbols = raw.Box.Symbols;
            var at = raw.State == AsyncState.Done ? symbols.EndLocation : symbols.AwaitLocation(raw.State) ?? (raw.State == AsyncState.Running ? symbols.StartLocation : null);
            frames.Add(new AsyncStackFrame(symbols.Name, at?.File, at?.Line));
        }
        return frames;
    }

    /// <summary>
    /// A step's awaiter chain, root first, taken on the thread that runs it, its own frame at the line that thread's
    /// stack is at: the box's state is the await it resumed from, and it ran on from there (a wait at a later line of it,
    /// or a call it made there, was reported with the method at the await before).
    /// </summary>
    private static IReadOnlyList<AsyncStackFrame> Frames(StepContext step, IReadOnlyList<(MethodBase? Method, int ILOffset)> threadStack)
    {
        var frames = Frames(step.Stack);
        if (frames.Count == 0 || step.Box is not { Symbols: { MoveNext: { } moveNext } symbols } box || step.Stack.Frames[0].Box != box
            || WaitSites.OffsetOnStack(threadStack, moveNext) is not { } offset || MethodSymbols.LineAt(moveNext, offset) is not { } at)
            return frames;
        return [.. frames.Take(frames.Count - 1), new AsyncStackFrame(symbols.Name, at.File, at.Line)];
    }

    public static string CombinatorName(Type? type) => type?.Name switch
    {
        null => "(task)",
        var n when n.StartsWith("WhenAllPromise", StringComparison.Ordinal) => "Task.WhenAll",
        var n when n.StartsWith("WhenAnyPromise", StringComparison.Ordinal) || n.StartsWith("TwoTaskWhenAnyPromise", StringComparison.Ordinal) => "Task.WhenAny",
        var n when n.StartsWith("UnwrapPromise", StringComparison.Ordinal) => "Task.Unwrap",
        var n when n.StartsWith("ContinuationTaskFrom", StringComparison.Ordinal) || n.StartsWith("ContinuationResultTaskFrom", StringComparison.Ordinal) => "Task.ContinueWith",
        _ => TypeNames.Format(type),
    };

    private static WaitTarget DescribeTarget(Task? task, int state, int id, RuntimeAsyncFrame? chain = null)
    {
        // A runtime-async chain's task (.NET 11): named by the chain's outermost method, as its stack shows it, not by its
        // dispatcher (`AsyncHelpers.RuntimeAsyncTask<string>.DispatchContinuations()`).
        if (chain is { } outermost)
        {
            var text = NodeTexts.Frame(outermost, resuming: false);
            return new WaitTarget(id, $"task {id} ({text.Title})", text.At is { } at ? new SourceLine(at.File, at.Line, text.Title) : null);
        }
        if (task is not null && BoxInfo.Of(task) is { } box)
        {
            var at = box.Symbols.AwaitLocation(state);
            return new WaitTarget(id, $"task {id} ({box.Symbols.Name})", at is null ? null : new SourceLine(at.Value.File, at.Value.Line, box.Symbols.Name));
        }
        if (task is not null && TaskInternals.Action(task) is { } action)
            return new WaitTarget(id, $"task {id} ({MethodNames.Format(action.Method)})", null);
        return new WaitTarget(id, task is null ? $"task {id}" : $"task {id} ({CombinatorName(task.GetType())})", null);
    }

    // Where the exception was thrown: the deepest frame of the faulted method's own assembly (a library's frames in
    // between, a database client's, are where it came from, not where the user can look); else the deepest of the
    // app's own code; a package's line (its PDB may name `/_/Dapper/...`) only when the app has none in the stack. The
    // faulted method's assembly is not always known (its box may be collected before the report is written).
    private static SourceLine? ThrowSite(Exception ex, System.Reflection.Assembly? home)
    {
        var frames = new StackTrace(ex, fNeedFileInfo: false).GetFrames();
        SourceLine? own = null, package = null;
        foreach (var frame in frames)
        {
            if (frame.GetMethod() is not { } m || !CodeOrigin.IsUserCode(m) || MethodSymbols.LineAt(m, frame.GetILOffset()) is not { } at)
                continue;
            var site = new SourceLine(at.File, at.Line, MethodNames.Format(m));
            if (m.Module.Assembly == home)
                return site;
            if (CodeOrigin.Kind(m.Module.Assembly) == CodeKind.User)
                own ??= site;
            else
                package ??= site;
        }
        return own ?? package;
    }

    // The line of `code` (a state machine's MoveNext, or a delegate's method) in the exception's stack trace.
    private static SourceLine? LineIn(Exception ex, MethodBase code)
    {
        foreach (var frame in new StackTrace(ex, fNeedFileInfo: false).GetFrames())
        {
            if (frame.GetMethod() is { } m && MethodSymbols.SameDefinition(m, code) && MethodSymbols.LineAt(m, frame.GetILOffset()) is { } at)
                return new SourceLine(at.File, at.Line, MethodNames.Format(m));
        }
        return null;
    }

    // A task that faulted before its first await has no box: the stack of the fault names it.
    private static string? FaultedMethodFromStack(StackFrame[]? frames) =>
        frames?.Select(f => f.GetMethod()).FirstOrDefault(m => m is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t)) is { } moveNext
            ? MethodNames.Format(moveNext)
            : null;

    private static SourceLine? CreatorFromStack(StackFrame[]? frames)
    {
        return frames is null ? null : CreationSites.FromStack(frames, null, Tracking.TaskOrigin.AsyncMethod);
    }

    private static SourceLine? Line(SourceLocation? at) => at is { } l ? new SourceLine(l.File, l.Line) : null;

    private static string Seconds(double seconds) => seconds.ToString("0.000", CultureInfo.InvariantCulture);

    private static string FirstLine(string text)
    {
        var newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }
}
