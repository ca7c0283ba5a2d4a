using System.Diagnostics;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// unobserved-exception: an async method or Task.Run task faulted (TraceOperationEnd, status Error)
/// and nothing waits for it. Code may still await it a moment later (<c>var t = A(); ...; await t;</c>),
/// so it becomes a suspect, and is reported once the grace period passes with its exception still
/// unobserved, at process exit, or when the GC finds it (TaskScheduler.UnobservedTaskException),
/// whichever comes first.
/// </summary>
internal sealed class UnobservedExceptions(DetectionSettings settings, IFindingSink sink, TaskRegistry registry, TimeProvider time)
{
    private const int MaxSuspects = 10_000;

    [ThreadStatic] private static Exception? t_lastThrown;

    /// <summary>The exception last thrown on this thread (the one a method that faults before its box exists threw).</summary>
    public static Exception? LastThrown => t_lastThrown;

    private readonly List<Suspect> _suspects = [];
    private readonly RecentIds _reported = new(4096);
    // A library's own faults (see TheApps): the GC finding one unobserved later is no more the app's.
    private readonly RecentIds _libraryFaults = new(1024);
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Exception, object> _reportedExceptions = new();
    private volatile int _pendingByException;

    /// <summary>AppDomain.FirstChanceException: remembers the exception (a task that faults before its
    /// first await is known only by it) and sees a faulted task's exception rethrown by an await.</summary>
    public void OnFirstChance(Exception exception)
    {
        t_lastThrown = exception;
        if (_pendingByException == 0)
            return;
        lock (_suspects)
        {
            foreach (var s in _suspects)
            {
                if (s.ObservedByRethrow && s.Exception is { } e
                    && (ReferenceEquals(e, exception) || exception is AggregateException agg && agg.InnerExceptions.Contains(e)))
                    s.Rethrown = true;
            }
        }
    }

    /// <summary>A task faulted (called on the thread completing it, while it is still registered).</summary>
    public void OnFaulted(int taskId, TaskRecord? record, long now)
    {
        var task = registry.Find(taskId);
        Suspect suspect;
        if (task is not null)
        {
            var box = BoxInfo.Of(task);
            var action = box is null ? TaskInternals.Action(task) : null;
            if (box is null && action is null)
                return; // a TaskCompletionSource or a combinator: whoever completed it knows
            if (Observation.Of(task, out var promise))
                return;
            if (!TheApps(box?.StateMachineType ?? action!.Method.DeclaringType, record, box, TaskInternals.FaultException(task)))
            {
                _libraryFaults.Add(taskId);
                return;
            }
            Exception? rethrowOf = null;
            if (promise is null && IsTaskRunBody(record, box))
            {
                // The body of Task.Run(async () => ...) can fault before Task.Run's unwrap promise subscribes to it;
                // the promise then marks the body observed itself. Whoever awaits Task.Run awaits that promise.
                if (registry.Find(record!.CreatorTaskId) is { } outer)
                {
                    if (Observation.Of(outer, out var outerPromise))
                        return;
                    promise = outerPromise ?? outer;
                }
                else
                {
                    // Task.Run's own task is done and its promise not yet subscribed: no object to watch. Awaiting the
                    // promise rethrows this very exception object, so watch for that instead.
                    rethrowOf = TaskInternals.FaultException(task);
                }
            }
            suspect = new Suspect(taskId, now, record, task, promise, box, action, rethrowOf, null);
        }
        else if (record is null)
        {
            // No box yet: an async method that threw before its first await. Only the stack says which.
            var stack = new StackTrace(2, fNeedFileInfo: false).GetFrames();
            if (FaultedMethod(stack) is not { } at)
                return;
            if (!TheApps(stack, at, t_lastThrown))
            {
                _libraryFaults.Add(taskId);
                return;
            }
            suspect = new Suspect(taskId, now, null, null, null, null, null, t_lastThrown, stack);
        }
        else
        {
            return;
        }
        lock (_suspects)
        {
            if (_suspects.Count >= MaxSuspects)
                return;
            _suspects.Add(suspect);
            if (suspect.ObservedByRethrow)
                _pendingByException++;
        }
    }

    // An async method that threw before its first await faults its task from its builder: between the completion event
    // and the method's MoveNext there is only the runtime (and this listener). A TaskCompletionSource faulted by other
    // code raises the same event with no box or record either, and an async method may be further down the stack
    // (Orleans faults its subscriptions' sources when the host disposes it, under Host.DisposeAsync): whoever
    // completed that source knows, as for one in the registry. The index of that MoveNext's frame; null for other code.
    private static int? FaultedMethod(StackFrame[] stack)
    {
        var runtime = typeof(Task).Assembly;
        var own = typeof(UnobservedExceptions).Assembly;
        for (var i = 0; i < stack.Length; i++)
        {
            if (stack[i].GetMethod() is not { DeclaringType: { } type } method)
                return null;
            if (method.Name == "MoveNext" && MethodNames.IsStateMachine(type))
                return i;
            if (type.Assembly != runtime && type.Assembly != own
                || (type.IsGenericType ? type.GetGenericTypeDefinition() : type) is var t && (t == typeof(TaskCompletionSource) || t == typeof(TaskCompletionSource<>)))
                return null;
        }
        return null;
    }

    // Whose fault it is. A task of a library's code (a package's or the framework's) that a library's async step made,
    // with no code of the app's running in between, and whose exception came through none of the app's code, is that
    // library's own business: nothing of the app's is lost, and nothing the app can change (Grpc.Net.Client's
    // StreamWrapper.ReadAsync, called by the HTTP/2 connection's read loop on a socket disposed at shutdown, faults before
    // its first await; the loop reads the fault 3-132 ms later, and a process exit in between reported it). The app's own call of a
    // library's method (a fire-and-forget call, from its code or through Task.Run) made it, and stays its fault; so does
    // one whose maker is not known.
    private static bool TheApps(StackFrame[] stack, int faulted, Exception? exception) =>
        IsApps(stack[faulted].GetMethod()) || CameThroughApps(exception) || MadeByApps(stack, faulted + 1) != false;

    // The same for a task the registry holds, made where the stack sampled for its kind of creation says (or, without
    // one, by its creator's step); the body of Task.Run(M), where Task.Run was called.
    internal static bool TheApps(Type? code, TaskRecord? record, BoxInfo? box, Exception? exception)
    {
        if (code is null || CodeOrigin.IsAppCode(code.Assembly) || record is null || CameThroughApps(exception))
            return true;
        if (IsTaskRunBody(record, box))
            record = record.CreatorRecord;
        if (record is null)
            return true;
        if (record.Sample is { } sample && MadeByApps(sample.Frames, Below(sample.Frames, box?.StateMachineType)) is { } sampled)
            return sampled;
        return record.CreatorCode switch
        {
            BoxInfo step => CodeOrigin.IsAppCode(step.StateMachineType.Assembly),
            System.Reflection.MethodInfo method => method.DeclaringType is not { } type || CodeOrigin.IsAppCode(type.Assembly),
            _ => true,
        };
    }

    // Who called the method whose frames end above `from`: the nearest frame of the app's code, or the nearest async step
    // (a state machine's MoveNext) of a library's, whichever comes first down the stack; null when neither does (a
    // delegate task, a timer, a thread: who made that work is not on the stack).
    private static bool? MadeByApps(StackFrame[] stack, int from)
    {
        for (var i = from; i < stack.Length; i++)
        {
            if (stack[i].GetMethod() is not { DeclaringType: { } type } method)
                continue;
            if (CodeOrigin.IsAppCode(type.Assembly))
                return true;
            if (method.Name == "MoveNext" && MethodNames.IsStateMachine(type))
                return false;
        }
        return null;
    }

    // Below the frame of the created method's own first step (its box is created there), if the sample shows it.
    private static int Below(StackFrame[] frames, Type? stateMachine)
    {
        var created = stateMachine is { IsGenericType: true } ? stateMachine.GetGenericTypeDefinition() : stateMachine;
        for (var i = 0; created is not null && i < frames.Length; i++)
        {
            if (frames[i].GetMethod() is { Name: "MoveNext", DeclaringType: { } type } && (type.IsGenericType ? type.GetGenericTypeDefinition() : type) == created)
                return i + 1;
        }
        return 0;
    }

    // The exception, or one it wraps, went through a method of the app's (a callback of the app's a library ran, that threw).
    private static bool CameThroughApps(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 8; exception = exception.InnerException, depth++)
        {
            if (Array.Exists(new StackTrace(exception, fNeedFileInfo: false).GetFrames(), f => IsApps(f.GetMethod())))
                return true;
        }
        return false;
    }

    private static bool IsApps(System.Reflection.MethodBase? method) => method?.DeclaringType is { } type && CodeOrigin.IsAppCode(type.Assembly);

    // The async lambda a delegate task ran: its box was created by a delegate frame running the lambda itself.
    private static bool IsTaskRunBody(TaskRecord? record, BoxInfo? box) =>
        record is { CreatorCode: System.Reflection.MethodInfo code } && box is not null
        && MethodNames.Kickoff(box.StateMachineType) is { } kickoff && MethodSymbols.SameDefinition(code, kickoff);

    public void Tick(long now) => Report(s => now - s.Faulted >= settings.GraceTicks);

    /// <summary>At process exit: nothing can observe them any more.</summary>
    public void Flush() => Report(_ => true);

    /// <summary>TaskScheduler.UnobservedTaskException: the GC found a faulted task nobody observed.</summary>
    public void OnUnobservedTaskException(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        if (sender is not Task task || _reported.Contains(task.Id) || _libraryFaults.Contains(task.Id))
            return;
        var inner = e.Exception?.InnerExceptions ?? [];
        if (inner.Any(x => _reportedExceptions.TryGetValue(x, out _)))
            return; // a combinator's copy of an exception already reported for the task that threw it
        lock (_suspects)
        {
            // Reported from the suspect list, with its creation site: the task, or the promise watched for it, or (the
            // body of a Task.Run whose promise had not subscribed yet when it faulted) the promise holding its exception.
            if (_suspects.Exists(s => s.TaskId == task.Id || s.Promise?.Id == task.Id || SameException(s, inner)))
                return;
        }
        var box = BoxInfo.Of(task);
        var action = box is null ? TaskInternals.Action(task) : null;
        var exception = e.Exception?.InnerExceptions.Count == 1 ? e.Exception.InnerExceptions[0] : e.Exception;
        _reported.Add(task.Id);
        if (exception is not null)
            _reportedExceptions.AddOrUpdate(exception, task);
        sink.Add(new FaultFinding(task.Id, time.GetUtcNow(), exception, box, action, null, null));
    }

    private static bool SameException(Suspect s, IReadOnlyCollection<Exception> inner) =>
        (s.Exception ?? (s.Task is { } t ? TaskInternals.FaultException(t) : null)) is { } exception && inner.Contains(exception);

    private void Report(Predicate<Suspect> due)
    {
        List<Suspect>? ready = null;
        lock (_suspects)
        {
            if (_suspects.Count == 0)
                return;
            for (var i = _suspects.Count - 1; i >= 0; i--)
            {
                var s = _suspects[i];
                if (!due(s))
                    continue;
                _suspects.RemoveAt(i);
                if (s.ObservedByRethrow)
                    _pendingByException--;
                (ready ??= []).Add(s);
            }
        }
        if (ready is null)
            return;
        ready.Reverse();
        foreach (var s in ready)
        {
            if (IsObserved(s))
                continue;
            _reported.Add(s.TaskId);
            if (s.Promise is { } promise)
                _reported.Add(promise.Id); // the GC will find the promise unobserved too: one report is enough
            var exception = s.Task is not null ? TaskInternals.FaultException(s.Task) : s.Exception;
            if (exception is not null)
                _reportedExceptions.AddOrUpdate(exception, s);
            sink.Add(new FaultFinding(s.TaskId, time.GetUtcNow(), exception, s.Box, s.Action, s.Stack, s.Record));
        }
    }

    private static bool IsObserved(Suspect s)
    {
        if (s.ObservedByRethrow)
            return s.Rethrown;
        // Task.Run(async ...) and Task.WhenAll mark the task observed themselves: then the question is their promise.
        if ((s.Promise ?? s.Task) is not { } watched)
            return false;
        return TaskInternals.ExceptionObserved(watched) || !watched.IsCompleted && Observation.Of(watched, out _);
    }

    private sealed class Suspect(int taskId, long faulted, TaskRecord? record, Task? task, Task? promise, BoxInfo? box, Delegate? action, Exception? exception, StackFrame[]? stack)
    {
        public int TaskId { get; } = taskId;
        public long Faulted { get; } = faulted;
        public TaskRecord? Record { get; } = record;
        public Task? Task { get; } = task;
        public Task? Promise { get; } = promise;
        public BoxInfo? Box { get; } = box;
        public Delegate? Action { get; } = action;
        public Exception? Exception { get; } = exception;
        public StackFrame[]? Stack { get; } = stack;
        public bool Rethrown { get; set; }

        /// <summary>No task object tells whether it was observed: only seeing its exception rethrown (an await) does.</summary>
        public bool ObservedByRethrow => Exception is not null;
    }
}
