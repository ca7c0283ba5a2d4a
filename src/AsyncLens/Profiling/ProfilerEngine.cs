using System.Reflection;
using AsyncLens.Inventory;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Profiling;

/// <summary>
/// The async profiler, in the process: the same TPL events debug mode listens to, turned into time per async
/// method. A method's wall time runs from its box's creation (its first await that waits) to its completion;
/// its on-thread time is the sum of its steps (each resumption, until it awaits again or ends), less the steps
/// of others that ran nested inside them; who awaited whom comes from the await events. A method's first step,
/// before its first await that waits, runs inside its caller and is counted there (no event marks its start).
/// Everything on app threads is a few dictionary operations under one lock; names and lines are resolved at
/// <see cref="Stop"/>.
/// </summary>
internal sealed class ProfilerEngine : IEngineEvents, IDisposable
{
    private const int ExecutionWork = 2;
    private const int SynchronousWait = 1;
    private const int MaxDepth = 48;

    [ThreadStatic] private static List<Step>? t_steps;

    private readonly TaskRegistry _registry;
    private readonly bool _includeFramework;
    private readonly object _gate = new();
    private readonly Dictionary<int, Invocation> _live = [];
    private readonly CallNode _root = new(null, null);
    private readonly long _start;
    private readonly TplListener _listener;
    private long _stopped;
    private int _failed;

    public ProfilerEngine(TaskRegistry registry, bool includeFramework)
    {
        _registry = registry;
        _includeFramework = includeFramework;
        _start = DateTime.UtcNow.Ticks;
        _listener = TplListener.Start(this);
    }

    public void OnOperationBegin(int taskId, string operationName, long now)
    {
        if (!operationName.StartsWith("Async: ", StringComparison.Ordinal) && !operationName.StartsWith("Task: ", StringComparison.Ordinal))
            return;
        var creator = Steps() is { Count: > 0 } steps ? steps[^1].Invocation : null;
        lock (_gate)
            _live[taskId] = new Invocation(taskId, now, operationName) { CreatorId = creator?.Id ?? 0 };
    }

    public void OnWorkBegin(int taskId, int work, long now)
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
        Steps().Add(new Step(invocation, now));
    }

    public void OnWorkEnd(long now)
    {
        var steps = Steps();
        if (steps.Count == 0)
            return;
        var step = steps[^1];
        steps.RemoveAt(steps.Count - 1);
        var nested = step.Invocation is null ? step.Child : now - step.Start;
        if (step.Invocation is { } invocation)
            Interlocked.Add(ref invocation.OnThread, Math.Max(0, now - step.Start - step.Child));
        if (steps.Count > 0)
            steps[^1] = steps[^1] with { Child = steps[^1].Child + nested };
    }

    public void OnTaskWaitBegin(int taskId, int behavior, int continueWithTaskId, long now)
    {
        if (behavior == SynchronousWait || continueWithTaskId == 0)
            return;
        lock (_gate)
        {
            if (_live.TryGetValue(taskId, out var awaited))
                awaited.AwaiterId = continueWithTaskId;
        }
    }

    public void OnOperationEnd(int taskId, int status, long now)
    {
        Invocation? invocation;
        lock (_gate)
        {
            if (!_live.Remove(taskId, out invocation))
                return;
        }
        Resolve(invocation);
        _registry.Completed(taskId);
        // A method completes inside its last step: that step's time so far is its own (the rest, after this, is tiny).
        if (Steps() is { Count: > 0 } steps && steps[^1].Invocation == invocation)
        {
            var step = steps[^1];
            Interlocked.Add(ref invocation.OnThread, Math.Max(0, now - step.Start - step.Child));
            steps[^1] = new Step(null, now);
        }
        lock (_gate)
            Record(invocation, now, pending: false);
    }

    public void Fail(Exception exception)
    {
        if (Interlocked.Exchange(ref _failed, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static engine => engine._listener.Dispose(), this, preferLocal: false);
    }

    /// <summary>Stops listening; what is still pending is counted up to now. Names and lines are resolved here.</summary>
    public AsyncProfile Stop()
    {
        _listener.Dispose();
        var now = DateTime.UtcNow.Ticks;
        lock (_gate)
        {
            if (_stopped == 0)
            {
                _stopped = now;
                foreach (var invocation in _live.Values.OrderBy(i => i.Start).ToList())
                    Record(invocation, now, pending: true);
                _live.Clear();
            }
            return AsyncProfile.From(_root, TimeSpan.FromTicks(_stopped - _start), _includeFramework);
        }
    }

    public void Dispose() => _listener.Dispose();

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

    private CallNode NodeFor(Invocation invocation, ProfiledMethod method)
    {
        var path = new List<ProfiledMethod> { method };
        var seen = new HashSet<Invocation> { invocation };
        for (var up = Parent(invocation); up is not null && path.Count < MaxDepth && seen.Add(up); up = Parent(up))
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

    private static List<Step> Steps() => t_steps ??= [];

    // Its box type or delegate method, from the runtime's registry of pending tasks (where a box is from its creation on).
    private object? Resolve(Invocation invocation)
    {
        if (invocation.Code is null && _registry.Find(invocation.Id) is { } task)
            invocation.Code = (object?)BoxInfo.Of(task) ?? TaskInternals.Action(task)?.Method;
        return invocation.Code;
    }

    private ProfiledMethod MethodOf(Invocation invocation) => ProfiledMethod.Of(Resolve(invocation), invocation.OperationName);

    private readonly record struct Step(Invocation? Invocation, long Start, long Child = 0);

    private sealed class Invocation(int id, long start, string? operationName)
    {
        public int Id { get; } = id;

        public long Start { get; } = start;

        public string? OperationName { get; } = operationName;

        /// <summary>The box's <see cref="BoxInfo"/> or a delegate task's method, once a step of it ran.</summary>
        public object? Code;

        public int AwaiterId;

        public int CreatorId { get; init; }

        public bool StartedBefore { get; init; }

        public long OnThread;

        public long ChildWall;
    }
}

/// <summary>One node of the async call tree: a method reached through one path of awaiters.</summary>
internal sealed class CallNode(ProfiledMethod? method, CallNode? parent)
{
    private Dictionary<ProfiledMethod, CallNode>? _children;

    public ProfiledMethod? Method { get; } = method;

    public CallNode? Parent { get; } = parent;

    public IEnumerable<CallNode> Children => _children?.Values ?? Enumerable.Empty<CallNode>();

    public int Calls;
    public int Pending;
    public int StartedBefore;
    public long Wall;
    public long SelfWall;
    public long OnThread;

    public CallNode Child(ProfiledMethod method)
    {
        _children ??= [];
        if (!_children.TryGetValue(method, out var child))
            _children[method] = child = new CallNode(method, this);
        return child;
    }
}

/// <summary>An async method (or a delegate task's method) as the profile names it, with the line it starts at.</summary>
internal sealed record ProfiledMethod(string Name, string? File, int Line, bool IsUser)
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<object, ProfiledMethod> s_cache = new();

    public static ProfiledMethod Of(object? code, string? operationName)
    {
        if (code is null)
            return s_cache.GetOrAdd(operationName ?? "", static key => Unresolved((string)key));
        return s_cache.GetOrAdd(code, static code => Resolve(code));
    }

    private static ProfiledMethod Resolve(object code)
    {
        try
        {
            if (code is BoxInfo box)
            {
                var moveNext = box.StateMachineType.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
                var first = moveNext is null ? null : Symbols.MethodSymbols.Lines(moveNext)?.AtOrAfter(0);
                var user = Symbols.CodeOrigin.IsUserCode(box.StateMachineType.Assembly);
                return new ProfiledMethod(Symbols.MethodNames.ForStateMachine(box.StateMachineType), first?.File, first?.Line ?? 0, user);
            }
            if (code is MethodInfo method)
            {
                var first = Symbols.MethodSymbols.Lines(method)?.AtOrAfter(0);
                return new ProfiledMethod($"Task.Run({Symbols.MethodNames.Format(method)})", first?.File, first?.Line ?? 0, Symbols.CodeOrigin.IsUserCode(method));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
        }
        return Unresolved(code.ToString() ?? "");
    }

    // "Async: <FetchAsync>d__3" -> "FetchAsync" (a box never seen running: no type to name it by).
    private static ProfiledMethod Unresolved(string operationName)
    {
        var name = operationName.StartsWith("Async: ", StringComparison.Ordinal) ? operationName[7..] : operationName;
        if (name.StartsWith('<') && Symbols.MethodNames.ClosingBracket(name) is var close and > 1)
            name = name[1..close];
        return new ProfiledMethod(name.Length == 0 ? "(unknown)" : name, null, 0, true);
    }
}
