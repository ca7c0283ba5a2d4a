namespace AsyncLens.Profiling;

/// <summary>
/// The profiler's accounting, whatever the events come from: the in-process <see cref="ProfilerEngine"/> (an
/// EventListener, on the threads that raise them) or <c>asynclens profile --pid</c> (an EventPipe session read from
/// outside, one thread, each event with the id of the thread that raised it). Both hand in the same five TPL events
/// with the <see cref="ThreadSteps"/> of the thread that raised them and its time in ticks.
/// A method's wall time runs from its box's creation (its first await that waits) to its completion; its on-thread
/// time is the sum of its steps (each resumption, until it awaits again or ends), less the steps of others that ran
/// nested inside them; who awaited whom comes from the await events. A method's first step, before its first await
/// that waits, runs inside its caller and is counted there (no event marks its start).
/// </summary>
internal sealed class ProfileAccounting
{
    private const int ExecutionWork = 2;
    private const int SynchronousWait = 1;
    private const int MaxDepth = 48;

    private readonly IProfileNames _names;
    private readonly bool _includeFramework;
    private readonly object _gate = new();
    private readonly Dictionary<int, Invocation> _live = [];
    private readonly CallNode _root = new(null, null);
    private readonly List<ProfiledMethod> _path = [];
    private readonly HashSet<Invocation> _visited = [];
    private readonly long _start;
    private long _stopped;

    public ProfileAccounting(IProfileNames names, bool includeFramework, long start)
    {
        _names = names;
        _includeFramework = includeFramework;
        _start = start;
    }

    /// <summary>A box (<c>"Async: &lt;FetchAsync&gt;d__3"</c>) or a delegate task (<c>"Task: ..."</c>) was created in the thread's current step.</summary>
    public void OperationBegin(ThreadSteps steps, int taskId, string operationName, long now)
    {
        if (!operationName.StartsWith("Async: ", StringComparison.Ordinal) && !operationName.StartsWith("Task: ", StringComparison.Ordinal))
            return;
        var creator = steps.Count > 0 ? steps.Top.Invocation : null;
        lock (_gate)
            _live[taskId] = new Invocation(taskId, now, operationName) { CreatorId = creator?.Id ?? 0 };
    }

    public void WorkBegin(ThreadSteps steps, int taskId, int work, long now)
    {
        Invocation? invocation = null;
        if (work == ExecutionWork)
        {
            lock (_gate)
            {
                if (!_live.TryGetValue(taskId, out invocation))
                    _live[taskId] = invocation = new Invocation(taskId, _start, null) { StartedBefore = true };
            }
            Resolve(invocation);
        }
        steps.Push(new Step(invocation, now));
    }

    public void WorkEnd(ThreadSteps steps, long now)
    {
        if (steps.Count == 0)
            return;
        var step = steps.Pop();
        var nested = step.Invocation is null ? step.Child : now - step.Start;
        if (step.Invocation is { } invocation)
            Interlocked.Add(ref invocation.OnThread, Math.Max(0, now - step.Start - step.Child));
        if (steps.Count > 0)
            steps.AddChild(nested);
    }

    public void TaskWaitBegin(int taskId, int behavior, int continueWithTaskId)
    {
        if (behavior == SynchronousWait || continueWithTaskId == 0)
            return;
        lock (_gate)
        {
            if (_live.TryGetValue(taskId, out var awaited))
                awaited.AwaiterId = continueWithTaskId;
        }
    }

    public void OperationEnd(ThreadSteps steps, int taskId, long now)
    {
        Invocation? invocation;
        lock (_gate)
        {
            if (!_live.Remove(taskId, out invocation))
                return;
        }
        Resolve(invocation);
        _names.Completed(taskId);
        // A method completes inside its last step: that step's time so far is its own (the rest, after this, is tiny).
        if (steps.Count > 0 && steps.Top.Invocation == invocation)
        {
            var step = steps.Top;
            Interlocked.Add(ref invocation.OnThread, Math.Max(0, now - step.Start - step.Child));
            steps.ReplaceTop(new Step(null, now));
        }
        lock (_gate)
            Record(invocation, now, pending: false);
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
                    Record(invocation, _stopped, pending: true);
                _live.Clear();
            }
            return AsyncProfile.From(_root, TimeSpan.FromTicks(_stopped - _start), _includeFramework);
        }
    }

    // Under _gate: the invocation's times go to its node in the call tree (the path of its awaiters).
    private void Record(Invocation invocation, long now, bool pending)
    {
        var method = MethodOf(invocation);
        var wall = now - invocation.Start;
        var parent = Parent(invocation);
        if (!_includeFramework && !method.IsUser)
        {
            // Folded into the user method above it: its steps become that method's own on-thread time.
            var user = parent;
            while (user is not null && !MethodOf(user).IsUser)
                user = Parent(user);
            if (user is not null)
            {
                Interlocked.Add(ref user.OnThread, invocation.OnThread);
                return;
            }
        }
        if (parent is not null)
            parent.ChildWall += wall;
        var node = NodeFor(invocation, method);
        node.Calls += pending ? 0 : 1;
        node.Pending += pending ? 1 : 0;
        node.StartedBefore += invocation.StartedBefore ? 1 : 0;
        node.Wall += wall;
        node.SelfWall += Math.Max(0, wall - invocation.ChildWall);
        node.OnThread += invocation.OnThread;
    }

    // The awaiter, or else the method whose step created it, while it is still pending.
    private Invocation? Parent(Invocation invocation)
    {
        if (invocation.AwaiterId != 0 && _live.TryGetValue(invocation.AwaiterId, out var awaiter) && awaiter != invocation)
            return awaiter;
        return invocation.CreatorId != 0 && _live.TryGetValue(invocation.CreatorId, out var creator) && creator != invocation ? creator : null;
    }

    // Under _gate: the path of awaiters, root first. A cycle (or a chain past MaxDepth) is cut where it repeats.
    private CallNode NodeFor(Invocation invocation, ProfiledMethod method)
    {
        var path = _path;
        var visited = _visited;
        path.Clear();
        visited.Clear();
        path.Add(method);
        visited.Add(invocation);
        for (var up = Parent(invocation); up is not null && path.Count < MaxDepth && visited.Add(up); up = Parent(up))
        {
            var upMethod = MethodOf(up);
            if (_includeFramework || upMethod.IsUser)
                path.Add(upMethod);
        }
        var node = _root;
        for (var i = path.Count - 1; i >= 0; i--)
            node = node.Child(path[i]);
        return node;
    }

    // What runs in it (a box's type, a delegate's method), asked for while the task is live: at its steps, at its
    // completion, and when a method it awaits completes.
    private object? Resolve(Invocation invocation) => invocation.Code ??= _names.CodeOf(invocation.Id);

    // Kept once the code is known (the code decides the name for good); a name from the operation name alone may
    // still change (outside the process, with the modules loaded meanwhile).
    private ProfiledMethod MethodOf(Invocation invocation)
    {
        if (invocation.Method is { } known)
            return known;
        var code = Resolve(invocation);
        var method = _names.MethodOf(code, invocation.OperationName);
        if (code is not null)
            invocation.Method = method;
        return method;
    }

    /// <summary>One running step of an invocation (null: a step of something that is not an async method), and the time of the steps nested in it.</summary>
    internal readonly record struct Step(Invocation? Invocation, long Start, long Child = 0);

    internal sealed class Invocation(int id, long start, string? operationName)
    {
        public int Id { get; } = id;

        public long Start { get; } = start;

        public string? OperationName { get; } = operationName;

        /// <summary>What <see cref="IProfileNames.CodeOf"/> gave once a step of it ran (in process: its box or delegate method).</summary>
        public object? Code;

        public ProfiledMethod? Method;

        public int AwaiterId;

        public int CreatorId { get; init; }

        public bool StartedBefore { get; init; }

        public long OnThread;

        public long ChildWall;
    }
}

/// <summary>The open steps of one thread, innermost last: steps nest on a thread (a continuation run inline).</summary>
internal sealed class ThreadSteps
{
    private readonly List<ProfileAccounting.Step> _steps = [];

    public int Count => _steps.Count;

    public ProfileAccounting.Step Top => _steps[^1];

    public void Push(ProfileAccounting.Step step) => _steps.Add(step);

    public ProfileAccounting.Step Pop()
    {
        var top = _steps[^1];
        _steps.RemoveAt(_steps.Count - 1);
        return top;
    }

    public void ReplaceTop(ProfileAccounting.Step step) => _steps[^1] = step;

    /// <summary>Adds the time of a step that ran nested in the innermost one.</summary>
    public void AddChild(long ticks) => _steps[^1] = _steps[^1] with { Child = _steps[^1].Child + ticks };
}

/// <summary>How the accounting names what it measured: in process from the runtime's tasks, from outside from the target's files.</summary>
internal interface IProfileNames
{
    /// <summary>What runs in a live task, if the source can tell (kept and passed to <see cref="MethodOf"/>); null otherwise.</summary>
    object? CodeOf(int taskId);

    /// <summary>The task completed: whatever was kept for it can go.</summary>
    void Completed(int taskId);

    /// <summary>The method for an invocation: from its code, or from its event's operation name alone.</summary>
    ProfiledMethod MethodOf(object? code, string? operationName);
}
