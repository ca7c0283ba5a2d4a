using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Reporting;

/// <summary>
/// Works out where a task was created, in user code. In order: the call to the task's method in
/// the code of its awaiter (the common <c>await Foo()</c>), in the step that was running when it was
/// created (fire-and-forget), then the stack sampled for that creation context. A site in framework
/// code defers to where the framework's own task was created.
/// </summary>
internal static class CreationSites
{
    private const int MaxHops = 6;

    /// <param name="record">The creation record, if the task was created while the engine ran.</param>
    /// <param name="target">The task's code: its async kickoff method or the delegate's method.</param>
    /// <param name="stack">The task's awaiter chain, leaf (the task) first, if it has one.</param>
    public static SourceLine? Resolve(TaskRecord? record, MethodBase? target, RawAsyncStack? stack)
    {
        if (target is not null && stack is not null && FromAwaiter(target, stack) is { } viaAwaiter)
            return viaAwaiter;
        for (var hop = 0; record is not null && hop < MaxHops; hop++)
        {
            if (target is not null && FromCreatorCode(record, target) is { } viaCreator)
                return viaCreator;
            if (record.Sample is { } sample && FromStack(sample.Frames, target, record.Origin) is { } viaSample)
                return viaSample;
            // Created by framework code, or by a delegate task running this very method (Task.Run(async () => ...)):
            // the user's line is where that task was created.
            target = CodeOf(record.CreatorCode);
            record = record.CreatorRecord;
        }
        return null;
    }

    private static SourceLine? FromAwaiter(MethodBase target, RawAsyncStack stack)
    {
        // Skip combinators (Task.WhenAll) between the task and the async method that awaits it.
        for (var i = 1; i < stack.Frames.Length; i++)
        {
            var frame = stack.Frames[i];
            if (frame.Box is null)
                continue;
            var symbols = frame.Box.Symbols;
            if (!symbols.IsUserCode || symbols.MoveNext is null)
                return null;
            var range = symbols.RangeBefore(frame.State);
            var call = MethodSymbols.CallsTo(symbols.MoveNext, target, range).LastOrDefault();
            return call.Target is null ? null : Site(symbols.MoveNext, call.Offset, symbols.Name);
        }
        return null;
    }

    private static SourceLine? FromCreatorCode(TaskRecord record, MethodBase target)
    {
        switch (record.CreatorCode)
        {
            case BoxInfo box when box.Symbols is { IsUserCode: true, MoveNext: { } moveNext } symbols:
                var range = symbols.StepRange(record.CreatorResumedState, -1);
                var call = MethodSymbols.CallsTo(moveNext, target, range).FirstOrDefault();
                if (call.Target is null)
                    call = MethodSymbols.CallsTo(moveNext, target, IlRanges.All).FirstOrDefault();
                return call.Target is null ? null : Site(moveNext, call.Offset, symbols.Name);
            case MethodInfo method when CodeOrigin.IsUserCode(method) && !MethodSymbols.SameDefinition(method, target):
                var direct = MethodSymbols.CallsTo(method, target, IlRanges.All).FirstOrDefault();
                return direct.Target is null ? null : Site(method, direct.Offset, MethodNames.Format(method));
            default:
                return null;
        }
    }

    /// <summary>The first user frame of the sampled stack that is not the created method itself.</summary>
    public static SourceLine? FromStack(StackFrame[] frames, MethodBase? target, TaskOrigin origin)
    {
        var start = 0;
        Type? created = null;
        if (origin == TaskOrigin.AsyncMethod)
        {
            // An async method's box is created inside its own first step: the topmost MoveNext is the
            // created method's; its kickoff (unless inlined) comes next.
            for (var i = 0; i < frames.Length; i++)
            {
                if (frames[i].GetMethod() is { Name: "MoveNext", DeclaringType: { } t } && MethodNames.IsStateMachine(t))
                {
                    created = t.IsGenericType ? t.GetGenericTypeDefinition() : t;
                    start = i + 1;
                    break;
                }
            }
        }
        for (var i = start; i < frames.Length; i++)
        {
            var method = frames[i].GetMethod();
            if (method is null || !CodeOrigin.IsUserCode(method))
                continue;
            if (target is not null && MethodSymbols.SameDefinition(method, target))
                continue;
            if (created is not null && method.GetCustomAttribute<StateMachineAttribute>()?.StateMachineType == created)
                continue;
            return Site(method, frames[i].GetILOffset(), MethodNames.Format(method));
        }
        return null;
    }

    public static MethodBase? CodeOf(object? creatorCode) => creatorCode switch
    {
        BoxInfo box => box.Symbols.Kickoff,
        MethodInfo method => method,
        _ => null,
    };

    private static SourceLine? Site(MethodBase method, int ilOffset, string name) =>
        MethodSymbols.LineAt(method, ilOffset) is { } at ? new SourceLine(at.File, at.Line, name) : null;
}
