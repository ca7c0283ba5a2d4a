using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Reporting;

/// <summary>
/// Works out where a task was created, in user code, from what was recorded cheaply at creation.
/// In order: the call to the task's method in the code of the async method awaiting it (the common
/// <c>await Foo()</c>); in the step that was running when it was created (fire-and-forget); in the
/// methods whose boxes that same step created next (a method still in its first step creates tasks
/// before its own box exists); then the real stack sampled for that creation context, used only if it
/// really shows this method being created. A site in framework code, or in a package's (MassTransit's reader loop,
/// built from its own PDB's paths, not the user's files), is no answer; a site in framework code defers to where that
/// code's own task was created (a package's task is its loop, created once for every task it runs): a
/// creation site is a line of the app's own code (<see cref="CodeOrigin.IsAppCode"/>). Failing all that, the method's one
/// call site, or the one call that registered its type with the framework that runs it (<see cref="CallSites"/>). No
/// answer beats a wrong one.
/// </summary>
internal sealed class CreationSites(Func<int, Task?> findTask)
{
    private const int MaxHops = 6;

    /// <param name="record">The creation record, if the task was created while the engine ran.</param>
    /// <param name="target">The task's code: its async kickoff method or the delegate's method.</param>
    /// <param name="stack">The task's awaiter chain, leaf (the task) first, if it has one.</param>
    public SourceLine? Resolve(TaskRecord? record, MethodBase? target, RawAsyncStack? stack)
    {
        if (target is not null && stack is not null && FromAwaiter(target, stack) is { } viaAwaiter)
            return viaAwaiter;
        var method = target;
        for (var hop = 0; record is not null && target is not null && hop < MaxHops; hop++)
        {
            if ((FromCreatorCode(record, target) ?? FromSiblings(record, target)) is { } viaCode)
                return viaCode;
            if (record.Sample is { } sample && FromStack(sample.Frames, target, record.Origin, RequestEndpoints.HandlerOf(sample.Endpoint)) is { } viaSample)
                return viaSample;
            // Created by framework code, or by a delegate task running this very method (Task.Run(async () => ...)):
            // the user's line is where that task was created.
            target = CodeOf(record.CreatorCode);
            record = record.CreatorRecord;
            // A package's task that creates the app's is its loop (Orleans' activation message loop, MassTransit's
            // reader): where that loop was created says nothing of this task (Orleans': where the grain's first call
            // was made, for every later call).
            if (target?.DeclaringType is { } type && CodeOrigin.Kind(type.Assembly) == CodeKind.Package)
                break;
        }
        // Nothing recorded names it (no sample left for its context, created before debug mode, run by the framework):
        // a method of the user's called from one place only was created there; one the app never calls, of a type it
        // registered at one call (MapGrpcService<T>, MapHub<T>, AddHostedService<T>), where it registered that type.
        return method is not null && IsAppCode(method) && (CallSites.OnlyCallerOf(method) ?? CallSites.RegistrationOf(method)) is var (caller, offset)
            ? Site(caller, offset, MethodNames.Format(caller))
            : null;
    }

    /// <summary>
    /// The first frame of the app's own code on a real stack taken while the task was being created, skipping the created
    /// method itself. With a <paramref name="target"/>, the stack must show that method being created
    /// (a sample shared by a creation context may come from another method of the same name). A request's
    /// <paramref name="handler"/> running then, whose frame the JIT may have inlined away, is the caller it names if
    /// the stack shows no frame that calls the method.
    /// </summary>
    public static SourceLine? FromStack(StackFrame[] frames, MethodBase? target, TaskOrigin origin, MethodInfo? handler = null)
    {
        var i = CallerFrame(frames, target, origin);
        if (i == NotThisMethod)
            return null;
        // No frame of the app's: an inlined handler with no middleware of the app's around it names its call.
        if (i < 0)
            return target is null || handler is null ? null : Search(handler, target);
        var method = frames[i].GetMethod()!;
        if (target is not null && !MethodSymbols.CallsTo(method, target, IlRanges.All).Any())
        {
            if (origin == TaskOrigin.Delegate)
                return null;
            // The frame that called the method is not on the stack: the JIT inlined it into code that is not the
            // user's (a handler lambda into the delegate ASP.NET Core compiles for its endpoint). The request's
            // handler, if it calls the method, is it; called from one place only, that place; else the user's
            // frame that led to it (a middleware's `await next(context)`) is as near as the stack tells.
            if (InlinedCaller(target, handler) is { } inlined)
                return inlined;
        }
        return Site(method, frames[i].GetILOffset(), MethodNames.Format(method));
    }

    /// <summary>
    /// The method of the app's that called <paramref name="target"/>, an async method whose box's creation
    /// <paramref name="frames"/> sampled, as <see cref="FromStack"/> finds its line (the JIT's inlining aside); null when
    /// the sample shows another method being created: a work item's callback (SlowSteps.Delegates.cs).
    /// </summary>
    public static MethodInfo? CallerOf(StackFrame[] frames, MethodBase target) =>
        CallerFrame(frames, target, TaskOrigin.AsyncMethod) is >= 0 and var i ? frames[i].GetMethod() as MethodInfo : null;

    private const int NotThisMethod = -2;

    // The index of the first frame of the app's own below the created method (its kickoff and a recursion of it
    // skipped); -1 if none, NotThisMethod if the stack shows another async method being created than target.
    private static int CallerFrame(StackFrame[] frames, MethodBase? target, TaskOrigin origin)
    {
        var start = 0;
        Type? created = null;
        if (origin == TaskOrigin.AsyncMethod)
        {
            // An async method's box is created inside its own first step: the topmost MoveNext is the created
            // method's; its kickoff (unless inlined) comes next.
            for (var i = 0; i < frames.Length; i++)
            {
                if (frames[i].GetMethod() is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t))
                {
                    created = t.IsGenericType ? t.GetGenericTypeDefinition() : t;
                    start = i + 1;
                    break;
                }
            }
            if (target is not null && created != target.GetCustomAttribute<StateMachineAttribute>()?.StateMachineType)
                return NotThisMethod;
        }
        for (var i = start; i < frames.Length; i++)
        {
            var method = frames[i].GetMethod();
            if (method is null || !IsAppCode(method))
                continue;
            if (target is not null && MethodSymbols.SameDefinition(method, target))
                continue;
            if (created is not null && method.GetCustomAttribute<StateMachineAttribute>()?.StateMachineType == created)
                continue;
            // The sample is shared by every creation of this method in the context: in a recursion, taken for
            // the innermost call. Frames of the same method are the recursion, not who started it.
            if (created is not null && method is { Name: "MoveNext", DeclaringType: { } declaring }
                && (declaring.IsGenericType ? declaring.GetGenericTypeDefinition() : declaring) == created)
                continue;
            return i;
        }
        return -1;
    }

    // A package's method called from one place is called from the package (Orleans' message send, from its own
    // AddressAndSendMessage): a line of the package's, not one of the app's.
    private static SourceLine? InlinedCaller(MethodBase target, MethodInfo? handler) =>
        (handler is null ? null : Search(handler, target))
        ?? (CallSites.OnlyCallerOf(target) is var (caller, offset) && IsAppCode(caller) ? Site(caller, offset, MethodNames.Format(caller)) : null);

    private static SourceLine? FromAwaiter(MethodBase target, RawAsyncStack stack)
    {
        // Skip combinators (Task.WhenAll) between the task and the async method that awaits it.
        for (var i = 1; i < stack.Frames.Length; i++)
        {
            var frame = stack.Frames[i];
            if (frame.Chain is not null)
                return null; // awaited by a runtime-async method (.NET 11): the framework's, not a line of the user's
            if (frame.Box is null)
                continue;
            var symbols = frame.Box.Symbols;
            if (!CodeOrigin.IsAppCode(frame.Box.StateMachineType.Assembly) || symbols.MoveNext is null)
                return null;
            var call = MethodSymbols.CallsTo(symbols.MoveNext, target, symbols.RangeBefore(frame.State)).LastOrDefault();
            return call.Target is null ? null : Site(symbols.MoveNext, call.Offset, symbols.Name);
        }
        return null;
    }

    private static SourceLine? FromCreatorCode(TaskRecord record, MethodBase target) => record.CreatorCode switch
    {
        BoxInfo box => Search(box, target, box.Symbols.StepRange(record.CreatorResumedState, -1)),
        MethodInfo method when !MethodSymbols.SameDefinition(method, target) => Search(method, target),
        _ => null,
    };

    private SourceLine? FromSiblings(TaskRecord record, MethodBase target)
    {
        for (var sibling = record.NextSibling; sibling is not null; sibling = sibling.NextSibling)
        {
            var task = sibling.Box is null ? findTask(sibling.Id) : null;
            // A sibling running the target method itself is a deeper call of a recursion (boxed first, as the
            // innermost call parks first): its call to the method is its callee's site, not this task's.
            var site = sibling.Origin == TaskOrigin.AsyncMethod
                ? (sibling.Box ?? (task is null ? null : BoxInfo.Of(task))) is { } box && !IsRunBy(box, target) ? Search(box, target, IlRanges.All) : null
                : task is not null && TaskInternals.Action(task)?.Method is { } method ? Search(method, target) : null;
            if (site is not null)
                return site;
        }
        return null;
    }

    private static bool IsRunBy(BoxInfo box, MethodBase target) =>
        box.Symbols.Kickoff is { } kickoff && MethodSymbols.SameDefinition(kickoff, target);

    private static SourceLine? Search(BoxInfo box, MethodBase target, IlRanges range)
    {
        var symbols = box.Symbols;
        if (!CodeOrigin.IsAppCode(box.StateMachineType.Assembly) || symbols.MoveNext is not { } moveNext)
            return null;
        var call = MethodSymbols.CallsTo(moveNext, target, range).FirstOrDefault();
        if (call.Target is null && range != IlRanges.All)
            call = MethodSymbols.CallsTo(moveNext, target, IlRanges.All).FirstOrDefault();
        return call.Target is null ? null : Site(moveNext, call.Offset, symbols.Name);
    }

    private static SourceLine? Search(MethodInfo method, MethodBase target)
    {
        if (!IsAppCode(method) || MethodSymbols.SameDefinition(method, target))
            return null;
        var call = MethodSymbols.CallsTo(method, target, IlRanges.All).FirstOrDefault();
        return call.Target is null ? null : Site(method, call.Offset, MethodNames.Format(method));
    }

    public static MethodBase? CodeOf(object? creatorCode) => creatorCode switch
    {
        BoxInfo box => box.Symbols.Kickoff,
        MethodInfo method => method,
        _ => null,
    };

    private static bool IsAppCode(MethodBase method) => method.DeclaringType is { } type && CodeOrigin.IsAppCode(type.Assembly);

    private static SourceLine? Site(MethodBase method, int ilOffset, string name) =>
        MethodSymbols.LineAt(method, ilOffset) is { } at ? new SourceLine(at.File, at.Line, name) : null;
}
