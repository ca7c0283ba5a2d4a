namespace AsyncLens.Runtime.Layout;

/// <summary>
/// <see cref="Task"/>'s private fields: who waits for a task, what it runs, its state flags, its id, its exception;
/// and the runtime's registry of active tasks that the Visual Studio debugger switches on.
/// </summary>
internal static class TaskLayout
{
    public const string Type = "System.Threading.Tasks.Task";

    /// <summary>int: the state flags below.</summary>
    public const string StateFlags = "m_stateFlags";

    /// <summary>
    /// object: who waits for the task (<see cref="ContinuationLayout"/>): null, a box, an Action, a TaskContinuation, a
    /// <c>List&lt;object&gt;</c> of several; <see cref="CompletionSentinel"/> once it completed.
    /// </summary>
    public const string ContinuationObject = "m_continuationObject";

    /// <summary>Delegate: what a <c>Task.Run</c> / <c>ContinueWith</c> task runs (null for promises and async method boxes).</summary>
    public const string Action = "m_action";

    /// <summary>int: <see cref="Task.Id"/>, 0 until something asks for it (it is assigned lazily).</summary>
    public const string TaskId = "m_taskId";

    /// <summary>ContingentProperties: rarely needed state, the exception among it.</summary>
    public const string ContingentProperties = "m_contingentProperties";

    /// <summary>static object: what <see cref="ContinuationObject"/> holds once the task completed.</summary>
    public const string CompletionSentinel = "s_taskCompletionSentinel";

    /// <summary>static bool: when true, the runtime adds every async method box and Task.Run task to <see cref="ActiveTasks"/>.</summary>
    public const string AsyncDebuggingEnabled = "s_asyncDebuggingEnabled";

    /// <summary>
    /// .NET 11 only: the class that caches which async instrumentation is on (<c>s_activeFlags</c>, the debugger's among
    /// them), read once by the first async method; its static <see cref="SynchronizeFlags"/> reads the flags again.
    /// Setting <see cref="AsyncDebuggingEnabled"/> after the first async method ran does nothing until it is called.
    /// </summary>
    public const string AsyncInstrumentationType = "System.Runtime.CompilerServices.AsyncInstrumentation";

    public const string SynchronizeFlags = "SynchronizeFlags";

    /// <summary>static <c>Dictionary&lt;int, Task&gt;</c> (locked on itself): the active tasks by id, while <see cref="AsyncDebuggingEnabled"/>.</summary>
    public const string ActiveTasks = "s_currentActiveTasks";

    /// <summary>static method, the getter of <c>Task.InternalCurrent</c>: the delegate task running on the calling thread.</summary>
    public const string CurrentTaskGetter = "get_InternalCurrent";

    public const string ContingentPropertiesType = "System.Threading.Tasks.Task+ContingentProperties";

    /// <summary>TaskExceptionHolder, in <see cref="ContingentPropertiesType"/>.</summary>
    public const string ExceptionsHolder = "m_exceptionsHolder";

    public const string ExceptionHolderType = "System.Threading.Tasks.TaskExceptionHolder";

    /// <summary>bool: someone observed the exception (awaited the task, read Result or Exception).</summary>
    public const string ExceptionHandled = "m_isHandled";

    /// <summary>ExceptionDispatchInfo: the OperationCanceledException that cancelled the task (its token, its inner exception).</summary>
    public const string CancellationException = "m_cancellationException";

    /// <summary><c>List&lt;ExceptionDispatchInfo&gt;</c>: the exceptions that faulted the task.</summary>
    public const string FaultExceptions = "m_faultExceptions";

    /// <summary>What a delegate calls its target (the box, for an Action that resumes an async method).</summary>
    public const string DelegateType = "System.Delegate";

    public const string DelegateTarget = "_target";

    /// <summary>
    /// Bits of <see cref="StateFlags"/> (the runtime's <c>Task.TaskStateFlags</c>, trimmed from its assembly, so the
    /// test checks them on tasks in known states).
    /// </summary>
    public static class Flags
    {
        /// <summary>Scheduled: a delegate task queued or running.</summary>
        public const int Started = 0x10000;

        /// <summary>Its delegate has begun running.</summary>
        public const int DelegateInvoked = 0x20000;

        public const int Faulted = 0x200000;

        public const int Canceled = 0x400000;

        public const int RanToCompletion = 0x1000000;

        /// <summary>Created and waiting for something else to start it: a ContinueWith task whose antecedent is pending, a promise.</summary>
        public const int WaitingForActivation = 0x2000000;

        public const int Completed = RanToCompletion | Faulted | Canceled;

        public static bool IsCompleted(int flags) => (flags & Completed) != 0;

        /// <summary>Not scheduled yet: a ContinueWith task waits for the task it continues.</summary>
        public static bool IsWaitingForActivation(int flags) => (flags & (WaitingForActivation | Started | Completed)) == WaitingForActivation;

        /// <summary>Created (<c>new Task(...)</c>) and never started, nor waiting for anything to start it.</summary>
        public static bool IsCreated(int flags) => (flags & (Started | WaitingForActivation | Completed)) == 0;

        /// <summary>A delegate task whose delegate runs now.</summary>
        public static bool IsRunning(int flags) => (flags & (Started | DelegateInvoked)) == (Started | DelegateInvoked);
    }

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(RuntimeLayout.CoreLib, Type, [StateFlags, ContinuationObject, Action, TaskId, ContingentProperties], [CompletionSentinel, AsyncDebuggingEnabled, ActiveTasks], Methods: [CurrentTaskGetter]),
        new(ContingentPropertiesType, ExceptionsHolder),
        new(ExceptionHolderType, ExceptionHandled, FaultExceptions),
        new(DelegateType, DelegateTarget),
    ];
}
