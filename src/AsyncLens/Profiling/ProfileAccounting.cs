using AsyncLens.Symbols;

namespace AsyncLens.Profiling;

/// <summary>
/// The profiler's accounting, whatever the events come from: the in-process <see cref="ProfilerEngine"/> (an
/// EventListener, on the threads that raise them) or <c>asynclens profile --pid</c> (an EventPipe session read from
/// outside, one thread, each event with the id of the thread that raised it). Both hand in the same six TPL events
/// with the <see cref="ThreadSteps"/> of the thread that raised them and its time in ticks.
/// <para>
/// A method's wall time runs from its box's creation (its first await that waits) to its completion; its on-thread
/// time is the sum of its steps (each resumption, until it awaits again or ends), less the steps of others that ran
/// nested inside them. A method's first step, before its first await that waits, runs inside its caller and is
/// counted there (no event marks its start); a call that never waits raises no event at all.
/// </para>
/// <para>
/// Its caller is the method that awaits it (<c>TaskWaitBegin</c>), or that awaits the promise it was joined into
/// (<c>Task.WhenAll</c>, <c>Unwrap</c>: a <c>TraceOperationRelation</c> raised while its continuations run), or else the
/// method whose step created it. A call is recorded once its continuations have run, when every link is known.
/// </para>
/// </summary>
internal sealed partial class ProfileAccounting
{
    private const int CompletionNotification = 0;
    private const int ExecutionWork = 2;
    private const int SynchronousWait = 1;
    private const int JoinRelation = 1;
    private const int ChoiceRelation = 2;
    private const int MaxDepth = 48;

    private readonly IProfileNames _names;
    private readonly ProfileScope _scope;
    private readonly object _gate = new();
    private readonly Dictionary<int, Invocation> _live = [];
    private readonly CallNode _root = new(null, null);
    private readonly List<MethodKey> _path = [];
    private readonly Dictionary<object, MethodKey> _keys = [];
    private readonly Dictionary<object, MethodKey> _continueWithKeys = [];
    private readonly HashSet<Invocation> _visited = [];
    private readonly OutsideFigures _outside = new();
    private readonly long _start;
    private long _stopped;

    public ProfileAccounting(IProfileNames names, ProfileScope scope, long start)
    {
        _names = names;
        _scope = scope;
        _start = start;
    }

    /// <summary>A box (<c>"Async: &lt;FetchAsync&gt;d__3"</c>), a delegate task or a promise was created in the thread's current step.</summary>
    public void OperationBegin(ThreadSteps steps, int taskId, string operationName, long now)
    {
        Flush(steps);
        var kind = OperationNames.KindOf(operationName);
        if (kind == OperationKind.Other)
            return;
        var creator = steps.Running;
        lock (_gate)
        {
            var invocation = _live[taskId] = new Invocation(taskId, now, operationName, kind) { Creator = creator, CreatedOn = steps, CreatedIn = steps.Stretch };
            if (kind == OperationKind.AsyncMethod && creator is { Kind: OperationKind.Delegate or OperationKind.ContinueWith })
                creator.LastBox = invocation;
            // Task.WhenAll over calls that completed already takes no continuation on them: no Join will say so.
            if (kind == OperationKind.Promise && operationName is "Task.WhenAll" or "Task.WhenAny")
                steps.LastJoin = invocation;
            if (kind == OperationKind.Promise && steps.HasEarly && operationName is "Task.WhenAll" or "Task.WhenAny")
            {
                foreach (var early in steps.Early!)
                {
                    if (early.CreatedIn == steps.Stretch)
                        early.JoinedInto ??= invocation;
                }
            }
        }
    }

    public void WorkBegin(ThreadSteps steps, int taskId, int work, long now)
    {
        if (work == CompletionNotification && steps.Completed is { } completed && completed.Id == taskId)
        {
            // The runtime runs the continuations of what just completed: a promise that joins it says so in there.
            steps.Completed = null;
            RecordEarly(steps);
            steps.Push(new Step(null, now, Completing: completed));
            return;
        }
        Flush(steps);
        RecordEarly(steps);
        Invocation? invocation = null;
        if (work == ExecutionWork)
        {
            lock (_gate)
            {
                if (!_live.TryGetValue(taskId, out invocation))
                    _live[taskId] = invocation = StartedBefore(taskId);
                // It resumes: the time it was parked on a listed callee is not its own.
                if (invocation.AwaitingSince != 0 && Counts(invocation.Awaited))
                    invocation.ChildWall += Math.Max(0, now - invocation.AwaitingSince);
                invocation.AwaitingSince = 0;
                invocation.Awaited = null;
            }
            Resolve(invocation);
        }
        steps.Push(new Step(invocation, now));
    }

    public void WorkEnd(ThreadSteps steps, long now)
    {
        Flush(steps);
        RecordEarly(steps);
        if (steps.Count == 0)
            return;
        var step = steps.Pop();
        // A method's step is all nested time for the step it ran in; another frame (a completion notification) only
        // the method steps it held.
        var nested = step.Invocation is null ? step.Child : now - step.Start;
        if (step.Invocation is { } invocation && !step.Ended)
            Interlocked.Add(ref invocation.OnThread, Math.Max(0, now - step.Start - step.Child));
        if (steps.Count > 0)
            steps.AddChild(nested);
        if (step.Completing is { } completed)
            Record(completed);
    }

    /// <summary>A method parks on a task: it awaits it (<paramref name="continueWithTaskId"/> is its box).</summary>
    public void TaskWaitBegin(ThreadSteps steps, int taskId, int behavior, int continueWithTaskId, long now)
    {
        Flush(steps);
        if (behavior == SynchronousWait || continueWithTaskId == 0)
            return;
        lock (_gate)
        {
            if (!_live.TryGetValue(continueWithTaskId, out var awaiter))
                _live[continueWithTaskId] = awaiter = StartedBefore(continueWithTaskId);
            _live.TryGetValue(taskId, out var awaited);
            if (awaited is not null && awaited != awaiter)
                awaited.Awaiter ??= awaiter;
            awaiter.AwaitingSince = now;
            awaiter.Awaited = awaited;
        }
    }

    /// <summary>A promise (<paramref name="taskId"/>) took in a task that completed: raised while that task's continuations run.</summary>
    public void OperationRelation(ThreadSteps steps, int taskId, int relation, long now)
    {
        Flush(steps);
        if (relation is not (JoinRelation or ChoiceRelation) || steps.Count == 0 || steps.Top.Completing is not { } child)
            return;
        lock (_gate)
        {
            var listed = child.Kind == OperationKind.Promise ? child.JoinedListed : Listed(KeyOf(child.MergedFrom ?? child));
            // A promise made over tasks that completed already takes them in as it is made, in the stretch that makes it:
            // those Joins name no task (the notification frame around them, if any, is another task's).
            if (_live.TryGetValue(taskId, out var promise) && promise != child && !(promise.CreatedOn == steps && promise.CreatedIn == steps.Stretch))
            {
                child.JoinedInto ??= promise;
                promise.JoinedListed |= listed;
            }
        }
    }

    public void OperationEnd(ThreadSteps steps, int taskId, long now)
    {
        Flush(steps);
        Invocation? invocation;
        lock (_gate)
        {
            if (!_live.TryGetValue(taskId, out invocation) || invocation.End != 0)
                return;
            invocation.End = now;
        }
        if (invocation.Kind != OperationKind.Promise)
        {
            Resolve(invocation);
            _names.Completed(taskId);
        }
        // A method completes inside its last step: that step's time so far is its own (the rest, after this, is tiny).
        if (steps.Count > 0 && steps.Top.Invocation == invocation && !steps.Top.Ended)
        {
            var step = steps.Top;
            Interlocked.Add(ref invocation.OnThread, Math.Max(0, now - step.Start - step.Child));
            steps.ReplaceTop(step with { Ended = true });
        }
        steps.Completed = invocation;
    }

    /// <summary>Ends the accounting: what is still pending is counted up to <paramref name="now"/> (once; later calls return the same profile).</summary>
    public AsyncProfile Stop(long now)
    {
        lock (_gate)
        {
            if (_stopped == 0)
            {
                _stopped = Math.Max(now, _start + 1);
                foreach (var invocation in _live.Values.OrderBy(i => i.Start).ToList())
                    Record(invocation);
                _live.Clear();
                _root.Resolve(key => _names.MethodOf(key.Code, key.OperationName));
            }
            return AsyncProfile.From(_root, TimeSpan.FromTicks(_stopped - _start), _outside);
        }
    }

    // A call whose continuations ran (or that had none: the thread moved on) has every link it will get.
    private void Flush(ThreadSteps steps)
    {
        if (steps.Completed is { } completed)
        {
            steps.Completed = null;
            Record(completed);
        }
    }

    // The stretch the early calls were created in ends: whatever promise they were presumed in is known by now.
    private void RecordEarly(ThreadSteps steps)
    {
        if (!steps.HasEarly)
            return;
        List<Invocation> early;
        lock (_gate)
        {
            early = steps.Early!;
            steps.Early = null;
            steps.HasEarly = false;
        }
        foreach (var invocation in early)
            Record(invocation, early: true);
    }

    private Invocation StartedBefore(int taskId) => new(taskId, _start, null, OperationKind.AsyncMethod) { StartedBefore = true };

    // The times of a call go to its node in the call tree (the path of its callers), or, when the profile folds its
    // code, to the listed call above it.
    private void Record(Invocation invocation, bool early = false)
    {
        lock (_gate)
        {
            if (!_live.TryGetValue(invocation.Id, out var live) || live != invocation)
                return;
            if (_stopped == 0 && invocation.End == 0)
                return;
            if (invocation.Kind == OperationKind.Promise || MergeIntoBox(invocation))
            {
                _live.Remove(invocation.Id);
                return;
            }
            if (_stopped == 0 && WaitsForTask(invocation))
                return;
            TakeInDelegate(invocation);
            // Completed before anything awaited it, while the code that made it still runs: it may be about to be put in a
            // Task.WhenAll, which takes no continuation on a completed task. Recorded when that stretch of code ends.
            if (!early && _stopped == 0 && invocation is { Awaiter: null, JoinedInto: null, Kind: not OperationKind.Promise, CreatedOn: { } thread }
                && thread.Stretch == invocation.CreatedIn)
            {
                // Its completion raced the Task.WhenAll its stretch made since (recorded here just after the promise was
                // made): presumed in it, as the calls that completed before it are.
                if (thread.LastJoin is { } join && join.CreatedIn == invocation.CreatedIn && join.Start >= invocation.Start)
                    invocation.JoinedInto = join;
                (thread.Early ??= []).Add(invocation);
                thread.HasEarly = true;
                return;
            }
            _live.Remove(invocation.Id);
            var identity = invocation.MergedFrom ?? invocation;
            var method = KeyOf(identity);
            var pending = invocation.End == 0;
            var end = pending ? _stopped : invocation.End;
            var wall = Math.Max(0, end - identity.Start);
            var onThread = invocation.OnThread + (invocation.MergedFrom?.OnThread ?? 0);
            var childWall = invocation.ChildWall;
            if (pending && invocation.AwaitingSince != 0 && Counts(invocation.Awaited))
                childWall += Math.Max(0, end - invocation.AwaitingSince);
            var above = PathAbove(invocation, out var nearestListed);
            if (!Listed(method))
            {
                invocation.Anchor = above;
                if (nearestListed is not null)
                    Interlocked.Add(ref nearestListed.OnThread, onThread);
                else if (above != _root)
                    above.OnThread += onThread;
                else
                    _outside.Add(pending, identity.StartedBefore, onThread);
            }
            else
            {
                var node = above.Depth >= MaxDepth ? _root.Child(method) : above.Child(method);
                node.Calls += pending ? 0 : 1;
                node.Pending += pending ? 1 : 0;
                node.StartedBefore += identity.StartedBefore ? 1 : 0;
                node.Wall += wall;
                node.SelfWall += Math.Max(0, wall - childWall);
                node.OnThread += onThread;
                invocation.Anchor = node;
            }
            if (invocation.MergedFrom is { } task)
                task.Anchor = invocation.Anchor;
            // What is below it finds its path through its anchor from now on: nothing above it is held any longer.
            invocation.Awaiter = invocation.JoinedInto = invocation.Creator = invocation.LastBox = invocation.Awaited = invocation.MergedFrom = null;
            invocation.CreatedOn = null;
        }
    }

    // Under _gate: the node of the path of listed callers above the invocation, root first. The walk stops at a caller
    // already recorded (its anchor stands for the rest), at a cycle, or past MaxDepth. nearestListed: the first
    // listed caller not recorded yet, if that is where the invocation's folded time goes.
    private CallNode PathAbove(Invocation invocation, out Invocation? nearestListed)
    {
        var path = _path;
        var visited = _visited;
        path.Clear();
        visited.Clear();
        visited.Add(invocation);
        nearestListed = null;
        var anchor = _root;
        for (var up = Parent(invocation); up is not null && path.Count < MaxDepth && visited.Add(up); up = Parent(up))
        {
            if (up.Anchor is { } recorded)
            {
                anchor = recorded;
                break;
            }
            if (TaskOfBody(up) is { } task && visited.Add(task))
                up = task; // one call: the task stands for its body, and its caller comes next
            var upMethod = KeyOf(up.MergedFrom ?? up);
            if (Listed(upMethod))
            {
                nearestListed ??= up;
                path.Add(upMethod);
            }
        }
        var node = anchor;
        for (var i = path.Count - 1; i >= 0 && node.Depth < MaxDepth; i--)
            node = node.Child(path[i]);
        return node;
    }

    // Under _gate: its awaiter; or the awaiter of the promise it was joined into (a WhenAll of WhenAlls: of the
    // outermost); or else the call whose step created it (or, for a delegate task merged into its box, the task's).
    private static Invocation? Parent(Invocation invocation)
    {
        if (invocation.Awaiter is { } awaiter)
            return awaiter;
        var promise = invocation.JoinedInto;
        for (var depth = 0; promise is not null && depth < MaxDepth; depth++)
        {
            if (promise.Awaiter is { } promiseAwaiter)
                return promiseAwaiter;
            promise = promise.JoinedInto;
        }
        return invocation.MergedFrom is { } task ? Parent(task) : invocation.Creator;
    }

    // Under _gate: time parked on it is time in a callee the profile lists (not the awaiting method's own).
    private bool Counts(Invocation? awaited) => awaited is not null
        && (awaited.Kind == OperationKind.Promise ? awaited.JoinedListed : Listed(KeyOf(awaited.MergedFrom ?? awaited)));

    private bool Listed(MethodKey key) => _scope.Lists(key.Kind);

    // What runs in it (a box's type, a delegate's method), asked for while the task is live: at its steps, at its
    // completion, and when a method it awaits completes.
    private object? Resolve(Invocation invocation) => invocation.Code ??= _names.CodeOf(invocation.Id);

    // Under _gate: the key of its node, one per code (or per operation name while the code is not known). Kept once the
    // code is known; names and lines are only read when the profile stops, off the app's steps.
    private MethodKey KeyOf(Invocation invocation)
    {
        if (invocation.Key is { } known)
            return known;
        var code = Resolve(invocation);
        var keys = invocation.Kind == OperationKind.ContinueWith ? _continueWithKeys : _keys;
        object identity = code ?? invocation.OperationName ?? (object)_keys;
        if (!keys.TryGetValue(identity, out var key))
            keys[identity] = key = new MethodKey(code, invocation.OperationName, _names.KindOf(code, invocation.OperationName));
        if (code is not null)
            invocation.Key = key;
        return key;
    }
}

/// <summary>Which code the profile lists as its own rows; the rest is folded into the listed method above it.</summary>
internal readonly record struct ProfileScope(bool Framework = false, bool Packages = false)
{
    public bool Lists(CodeKind kind) => kind switch
    {
        CodeKind.User => true,
        CodeKind.Package => Packages,
        CodeKind.Framework => Framework,
        _ => false,
    };
}

/// <summary>Calls of folded code with no listed method above them (a server's connection loops, tasks started before profiling).</summary>
internal sealed class OutsideFigures
{
    public int Calls;
    public int Pending;
    public int StartedBefore;
    public long OnThread;

    public void Add(bool pending, bool startedBefore, long onThread)
    {
        Calls += pending ? 0 : 1;
        Pending += pending ? 1 : 0;
        StartedBefore += startedBefore ? 1 : 0;
        OnThread += onThread;
    }
}

/// <summary>How the accounting names what it measured: in process from the runtime's tasks, from outside from the target's files.</summary>
internal interface IProfileNames
{
    /// <summary>What runs in a live task, if the source can tell (kept and passed to <see cref="MethodOf"/>); null otherwise.</summary>
    object? CodeOf(int taskId);

    /// <summary>The task completed: whatever was kept for it can go.</summary>
    void Completed(int taskId);

    /// <summary>The method for an invocation, once profiling stopped: from its code, or from its event's operation name alone (null: never named).</summary>
    ProfiledMethod MethodOf(object? code, string? operationName);

    /// <summary>Whose code it is, while profiling (cheap: no names, no lines).</summary>
    CodeKind KindOf(object? code, string? operationName);

    /// <summary>The delegate task runs the async method of the box (<c>Task.Run(async () => ...)</c>, <c>Task.Run(FetchAsync)</c>).</summary>
    bool Runs(object? taskCode, string? taskOperation, object? boxCode, string? boxOperation) => OperationNames.Runs(taskOperation, boxOperation);
}
