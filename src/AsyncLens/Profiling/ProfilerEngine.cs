using System.Reflection;
using AsyncLens.Inventory;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Profiling;

/// <summary>
/// The async profiler, in the process: the same TPL events debug mode listens to, through an EventListener on the
/// threads that raise them, fed to <see cref="ProfileAccounting"/> with each thread's own steps. A box's type comes
/// from the runtime's registry of pending tasks (where a box is from its creation on); names and lines are
/// resolved at <see cref="Stop"/>.
/// </summary>
internal sealed class ProfilerEngine : IEngineEvents, IProfileNames, IProfilerEngine
{
    [ThreadStatic] private static ThreadSteps? t_steps;

    private readonly TaskRegistry _registry;
    private readonly ProfileAccounting _accounting;
    private readonly TplListener _listener;
    private int _failed;

    public ProfilerEngine(TaskRegistry registry, ProfileScope scope)
    {
        _registry = registry;
        // Which of the app's assemblies are packages' (its deps.json read now, not in the middle of one of its steps).
        PackageAssemblies.Prepare(AppContext.BaseDirectory);
        _accounting = new ProfileAccounting(this, scope, DateTime.UtcNow.Ticks);
        _listener = TplListener.Start(this);
    }

    public void OnOperationBegin(int taskId, string operationName, long now) => _accounting.OperationBegin(Steps(), taskId, operationName, now);

    public void OnWorkBegin(int taskId, int work, long now) => _accounting.WorkBegin(Steps(), taskId, work, now);

    public void OnWorkEnd(long now) => _accounting.WorkEnd(Steps(), now);

    public void OnTaskWaitBegin(int taskId, int behavior, int continueWithTaskId, long now) => _accounting.TaskWaitBegin(Steps(), taskId, behavior, continueWithTaskId, now);

    public void OnOperationRelation(int taskId, int relation, long now) => _accounting.OperationRelation(Steps(), taskId, relation, now);

    public System.Diagnostics.Tracing.EventKeywords Keywords => TplListener.ProfilerKeywords;

    public void OnOperationEnd(int taskId, int status, long now) => _accounting.OperationEnd(Steps(), taskId, now);

    public void Fail(Exception exception)
    {
        if (Interlocked.Exchange(ref _failed, 1) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static engine => engine._listener.Dispose(), this, preferLocal: false);
    }

    /// <summary>Stops listening; what is still pending is counted up to now. Names and lines are resolved here.</summary>
    public AsyncProfile Stop()
    {
        _listener.Dispose();
        return _accounting.Stop(DateTime.UtcNow.Ticks);
    }

    public void Dispose() => _listener.Dispose();

    public void Release() => AsyncDebug.ReleaseTracking();

    // Its box type or delegate method, from the runtime's registry of pending tasks.
    object? IProfileNames.CodeOf(int taskId) =>
        _registry.Find(taskId) is { } task ? (object?)BoxInfo.Of(task) ?? TaskInternals.Action(task)?.Method : null;

    void IProfileNames.Completed(int taskId) => _registry.Completed(taskId);

    ProfiledMethod IProfileNames.MethodOf(object? code, string? operationName) => ProfiledMethod.Of(code, operationName);

    CodeKind IProfileNames.KindOf(object? code, string? operationName) => code switch
    {
        BoxInfo box => CodeOrigin.Kind(box.StateMachineType.Assembly),
        MethodInfo { DeclaringType: { } type } => CodeOrigin.Kind(type.Assembly),
        // In process every live task's code is found in the runtime's registry: one that was not (it completed as the
        // profile stopped) is not known to be the user's.
        _ => CodeKind.Unknown,
    };

    bool IProfileNames.Runs(object? taskCode, string? taskOperation, object? boxCode, string? boxOperation) =>
        taskCode is MethodInfo method && boxCode is BoxInfo box
            ? MethodNames.Kickoff(box.StateMachineType) is { } kickoff && MethodSymbols.SameDefinition(kickoff, method)
            : OperationNames.Runs(taskOperation, boxOperation);

    private static ThreadSteps Steps() => t_steps ??= new ThreadSteps();
}

/// <summary>The in-process profiler, on whichever source <see cref="Tracking.StepSource"/> chose.</summary>
internal interface IProfilerEngine : IDisposable
{
    /// <summary>Stops listening; what is still pending is counted up to now. Names and lines are resolved here.</summary>
    AsyncProfile Stop();

    /// <summary>After <see cref="Stop"/>: gives back what the engine took of the process (the task registry).</summary>
    void Release()
    {
    }
}
