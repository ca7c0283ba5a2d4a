using System.Diagnostics;
using System.Runtime.CompilerServices;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// lost-exceptions: a <c>Task.WhenAll</c> faulted with several exceptions, and the await of it rethrew only the first.
/// When an async method or Task.Run task faults and its awaiter is a WhenAll promise, its exception is kept, with the
/// task, its creation record and the promise (faults are rare: this is off the hot path). When that exception is
/// then rethrown (a first-chance exception) while the promise holds more than one, the first rethrow is the await that
/// saw only it: its stack names the line. Whether the code reads the WhenAll task's <c>Exception</c> afterwards (handling
/// them all by hand) is decided from its IL when the report is built (<see cref="ReportBuilder"/>).
/// </summary>
internal sealed class LostExceptions(IFindingSink sink, TaskRegistry registry, TimeProvider time)
{
    private readonly ConditionalWeakTable<Exception, Member> _members = new();
    private readonly ConditionalWeakTable<Task, object> _decided = new();
    private volatile int _armed;

    /// <summary>An operation ended with an error (on the thread completing it, the task still registered).</summary>
    public void OnFaulted(int taskId, TaskRecord? record)
    {
        if (registry.Find(taskId) is not { } task || TaskInternals.FaultException(task) is not { } exception)
            return;
        var awaiters = new List<Awaiter>(2);
        Awaiters.Of(task, awaiters);
        foreach (var a in awaiters)
        {
            if (a is { Kind: AwaiterKind.AsyncWork, Node: Task promise } && RuntimeNames.Definition(promise.GetType()) == AwaitedLayout.WhenAllType)
            {
                _members.AddOrUpdate(exception, new Member(taskId, record, BoxInfo.Of(task), TaskInternals.Action(task), promise));
                _armed = 1;
                return;
            }
        }
    }

    /// <summary>AppDomain.FirstChanceException: the first rethrow of a WhenAll's first exception, once it holds several.</summary>
    public void OnFirstChance(Exception exception, ThreadTracker? tracker)
    {
        if (_armed == 0 || !_members.TryGetValue(exception, out var member) || !member.Promise.IsFaulted)
            return;
        var promise = member.Promise;
        var all = TaskInternals.FaultExceptions(promise);
        if (all.Count < 2 || !ReferenceEquals(all[0], exception) || _decided.TryGetValue(promise, out _))
            return;
        _decided.AddOrUpdate(promise, promise);
        var lost = new List<(Exception, LostMember?)>(all.Count - 1);
        for (var i = 1; i < all.Count; i++)
            lost.Add((all[i], _members.TryGetValue(all[i], out var m) ? new LostMember(m.TaskId, m.Record, m.Box, m.Action) : null));
        var step = tracker?.Top is { Kind: FrameKind.AsyncStep, Task: { } task, Box: not null } frame
            ? new StepContext(frame.TaskId, frame.Box, null, frame.ResumedState, RawAsyncStack.Capture(task, frame.ResumedState), frame.Record)
            : null;
        sink.Add(new LostFinding(promise.Id, time.GetUtcNow(), exception, lost, new StackTrace(1, fNeedFileInfo: false).GetFrames(), step));
    }

    private sealed record Member(int TaskId, TaskRecord? Record, BoxInfo? Box, Delegate? Action, Task Promise);
}
