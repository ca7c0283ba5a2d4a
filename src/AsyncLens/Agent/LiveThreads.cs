using System.Diagnostics;
using System.Globalization;
using AsyncLens.Attribution;
using AsyncLens.Diagnosis;
using AsyncLens.Inventory;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Agent;

/// <summary>
/// One thread of the process as the agent sees it from inside: its OS id, name and scheduler state (the kernel's,
/// <c>/proc/self/task</c>), and what debug mode saw it do: its managed id, the step it runs, the task it is blocked on.
/// </summary>
internal sealed record LiveThread(int OsId, string Name, string State, int? ManagedId, bool IsPoolWorker, string? Runs, LiveWait? Blocked, LiveStep? Step = null)
{
    public bool IsMain => OsId == Environment.ProcessId;

    public bool OnCpu => State == LiveThreads.RunningState;
}

/// <summary>
/// What a thread runs now, as debug mode saw it begin: an async step (the task, its method, the await it resumed from),
/// a delegate task, or the handler of an ASP.NET Core request run inline from its start (no await of it parked, so it
/// has no step of its own: <see cref="Handler"/>, no task, <see cref="ResumedAt"/> its first line); how long it has
/// run, and whether that is past debug mode's hung-step threshold (the one decision, <see cref="AsyncDebug.HungStepTicks"/>).
/// </summary>
internal sealed record LiveStep(int? TaskId, string Method, SourceLine? ResumedAt, double Seconds, bool Hung, LiveStepKind Kind = LiveStepKind.Step)
{
    public bool Handler => Kind == LiveStepKind.Handler;

    /// <summary>The RUNS column of <c>threads</c>, and how <c>pool</c> groups its busy workers.</summary>
    public string Sentence => Kind switch
    {
        LiveStepKind.Handler => $"the handler `{Method}` of an ASP.NET Core request, since its start{At} (no await of it has parked)",
        LiveStepKind.Delegate => $"`{Method}` (task {Id})",
        _ => $"a step of `{Method}`{(ResumedAt is null ? "" : $", resumed{At}")} (task {Id})",
    };

    private string At => ResumedAt is { } at ? $" at {at.File}:{at.Line.ToString(CultureInfo.InvariantCulture)}" : "";

    private string Id => TaskId is { } id ? id.ToString(CultureInfo.InvariantCulture) : "-";
}

internal enum LiveStepKind
{
    /// <summary>A step of an async method (resumed, or a first step the runtime ran as a work item).</summary>
    Step,

    /// <summary>A delegate task: <c>Task.Run</c>, <c>ContinueWith</c>.</summary>
    Delegate,

    /// <summary>An ASP.NET Core request's handler, run inline from its start inside the request's stretch.</summary>
    Handler,
}

/// <summary>
/// A thread blocked on a task as debug mode recorded it when the wait began: how (<c>.Result</c>), the user's line that
/// waited, what the task waits for now (the doctor's sentence), and the stack taken then, as the doctor reads one.
/// </summary>
internal sealed record LiveWait(long TaskId, string? How, ThreadFrameText? Waiter, string WaitsFor, IReadOnlyList<ThreadFrameText> Frames)
{
    /// <summary><c>blocked (.Result) in `Starve.Block(Task)` at F:L waiting for `Starve.CountAsync(Task)`, parked at F:L on TaskCompletionSource</c>: the same for threads blocked alike.</summary>
    public string Sentence => $"blocked{(How is null ? "" : $" ({How})")} in {(Waiter is { } w ? Doctor.Named(w.Method, w.At) : "the runtime's code")} waiting for {WaitsFor}";
}

/// <summary>
/// The threads of this process, read from inside. .NET has no API for another thread's stack, so what a thread runs
/// is known only where debug mode saw it: the async step on it (from the runtime's async events) and a blocking wait
/// on a task, with the stack its thread took as the wait began. The stacks of the others come from outside
/// (<c>asynclens threads PID</c>).
/// </summary>
internal static class LiveThreads
{
    /// <summary>Linux names the thread pool's workers so (the runtime's portable pool).</summary>
    public const string PoolWorkerName = ".NET TP Worker";

    /// <param name="snapshot">The task graph, taken only when a thread is blocked on a task (to say what that task waits
    /// for): with none blocked, reading the threads does not stop the app's task creation and completion at all.</param>
    public static List<LiveThread> Read(Func<TaskGraph> snapshot)
    {
        TaskGraph? graph = null;
        var trackers = new Dictionary<int, ThreadTracker>();
        foreach (var tracker in ThreadTracker.All)
        {
            if (tracker.Thread.IsAlive)
                trackers[tracker.OsThreadId] = tracker;
        }
        var threads = new List<LiveThread>();
        foreach (var (osId, name, state) in OsThreads())
        {
            trackers.TryGetValue(osId, out var tracker);
            if (tracker is null && name.StartsWith("AsyncLens", StringComparison.Ordinal))
                continue;
            var wait = tracker?.Wait is { IsOpen: true } w ? Wait(w, graph ??= snapshot()) : null;
            var (runs, step) = tracker is null ? (null, null) : Running(tracker);
            threads.Add(new LiveThread(osId, name, state, tracker?.ThreadId, tracker?.IsPoolThread ?? name == PoolWorkerName, runs, wait, step));
        }
        return threads;
    }

    /// <summary>The kernel's state of a thread on a processor (or ready for one).</summary>
    public const string RunningState = "running";

    /// <summary>The process's threads from the kernel (<c>/proc/self/task/TID</c>): comm (the name the runtime gave it, 15 bytes at most) and the state letter in stat.</summary>
    internal static IEnumerable<(int OsId, string Name, string State)> OsThreads()
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories("/proc/self/task");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
        foreach (var dir in tasks.OrderBy(d => d.Length).ThenBy(d => d, StringComparer.Ordinal))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                continue;
            string name, stat;
            try
            {
                name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // it ended meanwhile
            }
            // "TID (comm) S ...": the name may hold spaces and parentheses; the state follows the last ')'.
            var close = stat.LastIndexOf(')');
            var letter = close >= 0 && close + 2 < stat.Length ? stat[close + 2] : '?';
            yield return (id, name, letter switch
            {
                'R' => RunningState,
                'S' => "waiting",
                'D' => "in I/O",
                _ => letter.ToString(),
            });
        }
    }

    /// <summary>
    /// What a thread runs, the one place that decides it (threads' RUNS and step, pool's groups, top's hung steps): the
    /// innermost frame debug mode saw begin on it and not end. An async step or a delegate task is named with its task.
    /// A request's frame stands for a stretch of Kestrel's no event brackets: the handler its endpoint matched runs in it
    /// from its start, inline, as long as every await it meets completes at once (a step of its own begins only once
    /// one parks), and is named with its first line, timed from the match. A request frame whose work item is over
    /// (the thread went back to the pool; debug mode drops it at the thread's next event) runs nothing.
    /// </summary>
    private static (string? Runs, LiveStep? Step) Running(ThreadTracker tracker)
    {
        if (tracker.Top is not { } top)
            return (null, null);
        var (kind, start, taskId, box, code, resumed, endpoint, endpointAt) = (top.Kind, top.Start, top.TaskId, top.Box, top.Code, top.ResumedState, top.Endpoint, top.EndpointAt);
        if (kind == FrameKind.Request)
        {
            if (tracker.StandsForNothing(top))
                return (null, null);
            if (RequestEndpoints.HandlerOf(endpoint) is not { } handler || endpointAt <= 0)
                return (endpoint is null ? "an ASP.NET Core request, before its endpoint's handler (middleware, routing)" : "an ASP.NET Core request's endpoint (no handler method to name)", null);
            var first = Attribution.StretchCode.For(handler).StartLocation is { } s ? new SourceLine(s.File, s.Line) : null;
            var handlerStep = Timed(LiveStepKind.Handler, null, MethodNames.Format(handler), first, endpointAt);
            return (handlerStep.Sentence, handlerStep);
        }
        if (kind is not (FrameKind.AsyncStep or FrameKind.Delegate) || start <= 0)
            return (null, null);
        var method = box is not null ? box.Symbols.Name : code is not null ? MethodNames.Format(code) : null;
        if (method is null)
            return (null, null);
        var at = box is not null && Runtime.Layout.AsyncState.IsParked(resumed) && box.Symbols.AwaitLocation(resumed) is { } l ? new SourceLine(l.File, l.Line) : null;
        var step = Timed(box is not null ? LiveStepKind.Step : LiveStepKind.Delegate, taskId, method, at, start);
        return (step.Sentence, step);
    }

    private static LiveStep Timed(LiveStepKind kind, int? taskId, string method, SourceLine? at, long start)
    {
        var ticks = Math.Max(0, Detection.DetectionSettings.Now - start);
        return new LiveStep(taskId, method, at, (double)ticks / TimeSpan.TicksPerSecond, AsyncDebug.HungStepTicks is { } hung && ticks >= hung, kind);
    }

    private static string TaskIdText(int id) => id.ToString(CultureInfo.InvariantCulture);

    private static LiveWait Wait(SyncWait wait, TaskGraph graph)
    {
        // The stack was taken inside the runtime's TaskWaitBegin event, under AsyncLens's listener: the thread's own frames follow it.
        var begin = Array.FindLastIndex(wait.Stack, f => f.GetMethod() is { DeclaringType.Name: "TplEventSource" });
        var frames = wait.Stack.Skip(begin + 1).Select(Frame).Where(f => f is not null).Select(f => f!).ToList();
        var observed = new ObservedThread(wait.Thread.ThreadId, (uint)wait.Thread.OsThreadId, false, frames);
        var stack = wait.Stack.Select(f => (f.GetMethod(), f.GetILOffset())).ToList();
        ThreadFrameText? waiter = null;
        if (WaitSites.Waiter(stack, RequestEndpoints.HandlerOf(wait.Endpoint)) is var (method, offset))
            waiter = new ThreadFrameText(MethodNames.Format(method), Line(MethodSymbols.LineAt(method, offset)), App: true);
        var node = TaskCommands.Find(graph, wait.TaskId);
        var waitsFor = node is null ? $"task {TaskIdText(wait.TaskId)} (not an async method's, or it ended)" : WaitChain.From(node).Describe();
        return new LiveWait(wait.TaskId, ThreadStates.HowItWaits(observed), waiter ?? ThreadStates.UserFrame(observed), waitsFor, frames);
    }

    /// <summary>A frame of a stack taken on the thread, as the doctor reads one: the runtime's name tells its waits apart.</summary>
    internal static ThreadFrameText? Frame(StackFrame frame)
    {
        if (frame.GetMethod() is not { } method)
            return null;
        // The doctor knows the runtime's waits by name with no generic arity (System.Threading.Tasks.Task.GetResultCore).
        var type = method.DeclaringType is { } t ? NoArity((t.IsGenericType ? t.GetGenericTypeDefinition() : t).FullName ?? t.Name) : null;
        var user = CodeOrigin.IsUserCode(method);
        return new ThreadFrameText(MethodNames.Format(method), user ? Line(MethodSymbols.LineAt(method, frame.GetILOffset())) : null,
            type is null ? null : type + "." + method.Name, user);
    }

    private static string NoArity(string name)
    {
        var text = new System.Text.StringBuilder(name.Length);
        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] == '`')
            {
                while (i + 1 < name.Length && char.IsAsciiDigit(name[i + 1]))
                    i++;
            }
            else
                text.Append(name[i]);
        }
        return text.ToString();
    }

    private static SourceLine? Line(SourceLocation? at) => at is { } l ? new SourceLine(l.File, l.Line) : null;
}
