using System.Reflection;
using AsyncLens.Attribution;
using AsyncLens.Runtime;
using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>The reports of the chapter's bug patterns (issue 16): async-void-crash, lost-exceptions.</summary>
internal sealed partial class ReportBuilder
{
    private AsyncReport AsyncVoid(AsyncVoidFinding f)
    {
        var symbols = f.Box?.Symbols;
        var moveNext = symbols?.MoveNext ?? f.MoveNext;
        var ex = f.Exception;
        var throwSite = ThrowSite(ex, moveNext?.Module.Assembly);
        var method = symbols?.Name ?? FaultedMethodFromStack(f.FaultStack) ?? (f.MoveNext is { } m ? MethodNames.Format(m) : throwSite?.Method ?? "(unknown)");
        var ownLine = moveNext is null ? null : LineIn(ex, moveNext) ?? throwSite;
        var task = f.TaskId == 0 ? "" : $" (task {f.TaskId})";
        return new AsyncReport
        {
            Kind = AsyncReportKinds.AsyncVoidCrash,
            TaskId = f.TaskId,
            Method = method,
            Location = throwSite,
            CreatedAt = creationSites.Resolve(f.Record, symbols?.Kickoff, null) ?? CreatorFromStack(f.FaultStack),
            AsyncStack = (ownLine ?? throwSite) is { } line ? [new AsyncStackFrame(method, line.File, line.Line)] : [],
            Exception = new ExceptionInfo(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex.StackTrace),
            Message = $"{method} threw {ex.GetType().Name}: {FirstLine(ex.Message)}; an async void method has no task to hold it, so nothing can catch it and the process goes down{task}",
            Fix = FixHints.AsyncVoid,
            Timestamp = f.Timestamp,
        };
    }

    private static AsyncReport Deadlock(WaitFinding f, Task stuckBox, int stuckState, string method, SourceLine? location, WaitTarget target,
        SourceLine? createdAt, IReadOnlyList<AsyncStackFrame> stack)
    {
        var symbols = BoxInfo.Of(stuckBox)?.Symbols;
        var at = symbols?.AwaitLocation(stuckState) is { } l ? new SourceLine(l.File, l.Line, symbols.Name) : null;
        var where = at is null ? "an await" : $"the await at {Path.GetFileName(at.File)}:{at.Line} in {at.Method}";
        return new AsyncReport
        {
            Kind = AsyncReportKinds.SyncOverAsyncDeadlock,
            TaskId = f.Step?.TaskId ?? f.TaskId,
            ThreadId = f.ThreadId,
            Method = method,
            Location = location,
            DurationSeconds = Math.Round(f.Seconds, 3),
            Ongoing = true,
            WaitingOn = target,
            ContinuationAt = at,
            CreatedAt = createdAt,
            AsyncStack = stack,
            Message = $"thread {f.ThreadId} is deadlocked in {method}: it waits synchronously for {target.Description}, whose continuation after {where} "
                + $"is queued to {f.QueuedTo ?? "this thread's SynchronizationContext"} and cannot run while it waits ({Seconds(f.Seconds)} s so far)",
            Fix = FixHints.SyncOverAsyncDeadlock,
            Timestamp = f.Timestamp,
        };
    }

    // Null unless the line is in a finally block (or a DisposeAsync) and the await there completed at once, canceled.
    private AsyncReport? Cleanup(CleanupFinding f)
    {
        var frame = Array.Find(f.Stack, s => s.GetMethod() is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t));
        if (frame?.GetMethod() is not { DeclaringType: { } stateMachine } moveNext)
            return null;
        var kickoff = MethodNames.Kickoff(stateMachine);
        var disposing = kickoff?.Name == "DisposeAsync";
        if (!disposing && !FinallyBodies.Contains(moveNext, frame.GetILOffset()))
            return null;
        var location = Line(MethodSymbols.LineAt(moveNext, frame.GetILOffset()));
        var box = f.Step?.Box;
        // Resumed from this very await: it had begun before the token was canceled (a cleanup cut short, not refused).
        if (box is not null && location is not null && box.Symbols.AwaitLocation(f.Step!.ResumedState) is { } resumed && resumed.Line == location.Line && resumed.File == location.File)
            return null;
        var method = box?.Symbols.Name ?? MethodNames.Format(moveNext);
        // The try block's own line the cancellation went through (the await of the call that was canceled).
        var cancelledAt = f.Pending is { } pending ? LineIn(pending, moveNext) ?? ThrowSite(pending, moveNext.Module.Assembly) : null;
        var where = disposing ? "in DisposeAsync" : "in a finally block";
        var source = cancelledAt is null ? "" : $" (the one that canceled the try block at {Path.GetFileName(cancelledAt.File)}:{cancelledAt.Line})";
        // A cleanup that threw before it ever awaited (a DisposeAsync given a canceled token) has no box nor step of its
        // own: it ran inside its caller's step, and the thread's stack names the caller and the line that called it.
        var createdAt = f.Step is { } s ? creationSites.Resolve(s.Record, kickoff, s.Stack) : CreationSites.FromStack(f.Stack, null, Tracking.TaskOrigin.AsyncMethod);
        var stack = f.Step is { } step ? Frames(step.Stack) : [];
        if (stack.Count > 0 && location is not null)
            stack = [.. stack.Take(stack.Count - 1), new AsyncStackFrame(method, location.File, location.Line)];
        else if (location is not null)
            stack = createdAt is { Method: { } caller }
                ? [new AsyncStackFrame(caller, createdAt.File, createdAt.Line), new AsyncStackFrame(method, location.File, location.Line)]
                : [new AsyncStackFrame(method, location.File, location.Line)];
        var ex = f.Canceled;
        return new AsyncReport
        {
            Kind = AsyncReportKinds.CancelledCleanup,
            TaskId = f.TaskId,
            Method = method,
            Location = location,
            CreatedAt = createdAt,
            AsyncStack = stack,
            CancelledAt = cancelledAt,
            Exception = new ExceptionInfo(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, null),
            Message = $"the await at {(location is null ? "an await" : $"{Path.GetFileName(location.File)}:{location.Line}")} {where} of {method} threw {ex.GetType().Name} at once: "
                + $"the token it was given was already canceled{source}; the cleanup did not run{(f.TaskId == 0 ? "" : $" (task {f.TaskId})")}",
            Fix = FixHints.CancelledCleanup,
            Timestamp = f.Timestamp,
        };
    }

    // Null when the await was the framework's, or when the awaiting method reads a task's Exception (every exception
    // handled by hand: `catch { foreach (var e in all.Exception!.InnerExceptions) ... }`).
    private AsyncReport? Lost(LostFinding f)
    {
        var awaiting = Array.Find(f.AwaitStack, frame => CodeOrigin.IsUserCode(frame.GetMethod()));
        if (awaiting?.GetMethod() is not { } code || ReadsTaskException(code))
            return null;
        var location = Line(MethodSymbols.LineAt(code, awaiting.GetILOffset()));
        var own = f.Step?.Box is { } box && box.Symbols.MoveNext is { } moveNext && MethodSymbols.SameDefinition(code, moveNext);
        var method = own ? f.Step!.Box!.Symbols.Name : MethodNames.Format(code);
        var lost = f.Lost.Select(l => LostOne(l.Exception, l.Task)).ToList();
        var seen = f.Seen;
        var unseen = string.Join(", ", lost.Select(l => $"{ShortType(l.Type)}: {FirstLine(l.Message)}"));
        return new AsyncReport
        {
            Kind = AsyncReportKinds.LostExceptions,
            TaskId = f.TaskId,
            Method = method,
            Location = location,
            CreatedAt = own ? creationSites.Resolve(f.Step!.Record, f.Step.Box!.Symbols.Kickoff, f.Step.Stack) : null,
            AsyncStack = own ? Frames(f.Step!.Stack) : location is null ? [] : [new AsyncStackFrame(method, location.File, location.Line)],
            Exception = new ExceptionInfo(seen.GetType().FullName ?? seen.GetType().Name, seen.Message, seen.StackTrace),
            LostExceptions = lost,
            Message = $"Task.WhenAll faulted with {lost.Count + 1} exceptions and the await in {method} threw only the first "
                + $"({seen.GetType().Name}: {FirstLine(seen.Message)}); never seen: {unseen} (task {f.TaskId})",
            Fix = FixHints.LostExceptions,
            Timestamp = f.Timestamp,
        };
    }

    private LostException LostOne(Exception ex, LostMember? member)
    {
        var symbols = member?.Box?.Symbols;
        var code = (MethodBase?)symbols?.MoveNext ?? member?.Action?.Method;
        var name = symbols?.Name ?? (member?.Action is { } a ? MethodNames.Format(a.Method) : null);
        var createdAt = member is null ? null : creationSites.Resolve(member.Record, symbols?.Kickoff ?? member.Action?.Method, null);
        return new LostException(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, name, ThrowSite(ex, code?.Module.Assembly), createdAt);
    }

    // The awaiting method, its lambdas and local functions (and their state machines), read for a call of Task.Exception.
    private static bool ReadsTaskException(MethodBase code)
    {
        var kickoff = code.DeclaringType is { } sm && MethodNames.IsStateMachine(sm) ? MethodNames.Kickoff(sm) : code;
        if (kickoff?.DeclaringType is not { } owner)
            return Reads(code);
        var inner = $"<{kickoff.Name}>";
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        IEnumerable<MethodBase> Related(Type type, int depth) =>
            type.GetMethods(all).Where(m => m.Name.Contains(inner, StringComparison.Ordinal) || m.Name == "MoveNext" && type.Name.Contains(inner, StringComparison.Ordinal))
                .Concat(depth == 0 ? [] : type.GetNestedTypes(all).SelectMany(t => Related(t, depth - 1)));
        return Reads(code) || Related(owner, 2).Any(Reads);
    }

    private static bool Reads(MethodBase method) =>
        IlReader.Calls(method).Any(c => c.Target is { Name: "get_Exception", DeclaringType: { } t } && typeof(Task).IsAssignableFrom(t));

    private static string ShortType(string fullName) => fullName[(fullName.LastIndexOf('.') + 1)..];
}
