using AsyncLens.Profiling;
using AsyncLens.Symbols;

namespace AsyncLens.Tests.Profiling;

/// <summary>
/// Feeds <see cref="ProfileAccounting"/> a recorded sequence of TPL events, as the runtime raises them (the sequences in
/// the tests were read from a listener on .NET 10), each on a numbered thread at a time in milliseconds. Methods are
/// named from the events' operation names, as outside the process; <see cref="Framework"/> names the ones that are
/// not the user's.
/// </summary>
internal sealed class RecordedEvents : IProfileNames
{
    private readonly Dictionary<int, ThreadSteps> _threads = [];
    private readonly ProfileAccounting _accounting;

    public RecordedEvents(ProfileScope scope = default) => _accounting = new ProfileAccounting(this, scope, start: 0);

    /// <summary>Short names (<c>Leaf</c> for <c>"Async: &lt;Leaf&gt;d__0"</c>) of framework methods.</summary>
    public HashSet<string> Framework { get; } = new(StringComparer.Ordinal);

    public RecordedEvents Begin(int thread, double ms, int task, string operation)
    {
        _accounting.OperationBegin(Thread(thread), task, operation, Ticks(ms));
        return this;
    }

    public RecordedEvents Wait(int thread, double ms, int awaited, int awaiter)
    {
        _accounting.TaskWaitBegin(Thread(thread), awaited, behavior: 2, awaiter, Ticks(ms));
        return this;
    }

    /// <summary>A step of an async method or delegate task (the runtime's Execution work).</summary>
    public RecordedEvents Step(int thread, double ms, int task)
    {
        _accounting.WorkBegin(Thread(thread), task, work: 2, Ticks(ms));
        return this;
    }

    /// <summary>The runtime runs the continuations of a completed task (CompletionNotification work).</summary>
    public RecordedEvents Notify(int thread, double ms, int task)
    {
        _accounting.WorkBegin(Thread(thread), task, work: 0, Ticks(ms));
        return this;
    }

    public RecordedEvents EndStep(int thread, double ms)
    {
        _accounting.WorkEnd(Thread(thread), Ticks(ms));
        return this;
    }

    public RecordedEvents Join(int thread, double ms, int promise)
    {
        _accounting.OperationRelation(Thread(thread), promise, relation: 1, Ticks(ms));
        return this;
    }

    public RecordedEvents End(int thread, double ms, int task)
    {
        _accounting.OperationEnd(Thread(thread), task, Ticks(ms));
        return this;
    }

    public AsyncProfile Stop(double ms) => _accounting.Stop(Ticks(ms));

    object? IProfileNames.CodeOf(int taskId) => null;

    void IProfileNames.Completed(int taskId)
    {
    }

    ProfiledMethod IProfileNames.MethodOf(object? code, string? operationName)
    {
        if (operationName is null)
            return ProfiledMethod.StartedBeforeProfiling;
        var method = ProfiledMethod.Unresolved(operationName);
        method = method with { Origin = Framework.Contains(method.Name) ? CodeKind.Framework : CodeKind.User };
        // "Task: <Main>b__0_9" -> Task.Run(<Main>b__0_9), as a delegate task is named.
        return OperationNames.KindOf(operationName) switch
        {
            OperationKind.Delegate => method with { Name = $"Task.Run({operationName[OperationNames.Delegate.Length..]})" },
            OperationKind.ContinueWith => method with { Name = $"Task.ContinueWith({operationName[OperationNames.ContinueWith.Length..]})" },
            _ => method,
        };
    }

    CodeKind IProfileNames.KindOf(object? code, string? operationName) => ((IProfileNames)this).MethodOf(code, operationName).Origin;

    private ThreadSteps Thread(int thread) => _threads.TryGetValue(thread, out var steps) ? steps : _threads[thread] = new ThreadSteps();

    private static long Ticks(double ms) => (long)(ms * TimeSpan.TicksPerMillisecond);
}
