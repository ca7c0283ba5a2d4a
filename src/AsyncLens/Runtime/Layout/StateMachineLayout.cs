namespace AsyncLens.Runtime.Layout;

/// <summary>
/// Async methods compiled as state machines (C#'s <c>async</c> before .NET 11's runtime async): the compiler's state
/// machine (a struct in Release builds, a class in Debug builds) and the runtime's box that runs it and is the
/// method's task. The compiler's names are Roslyn's, the boxes the runtime's.
/// </summary>
internal static class StateMachineLayout
{
    /// <summary>int: the state machine's state (<see cref="AsyncState"/>).</summary>
    public const string State = "<>1__state";

    /// <summary>
    /// The awaiter fields: <c>&lt;&gt;u__1</c>, <c>&lt;&gt;u__2</c>... one per awaiter type. The compiler stores the awaiter
    /// of the await it suspends on in one and clears it on resuming, so at most one is set (<see cref="AwaiterLayout"/>).
    /// </summary>
    public const string AwaiterPrefix = "<>u__";

    /// <summary>The field an instance async method's state machine keeps its <c>this</c> in (the C# compiler's name).</summary>
    public const string ThisField = "<>4__this";

    /// <summary>
    /// The prefixes of hoisted temporaries: Debug builds name them <c>&lt;&gt;s__N</c>, Release builds
    /// <c>&lt;&gt;7__wrapN</c>. One of type object is the pending exception of a try whose finally (or catch) awaits.
    /// </summary>
    public static readonly string[] HoistedTemporaryPrefixes = ["<>s__", "<>7__wrap"];

    /// <summary>The method builder (an async iterator's: <see cref="IteratorBuilderType"/>).</summary>
    public const string Builder = "<>t__builder";

    /// <summary>An async iterator's promise (a ManualResetValueTaskSourceCore): what its consumer awaits.</summary>
    public const string IteratorPromise = "<>v__promiseOfValueOrEnd";

    /// <summary>Task, in <see cref="IteratorBuilderType"/>: the box that runs the iterator, once it first awaited.</summary>
    public const string IteratorBuilderTask = "m_task";

    public const string IteratorBuilderType = "System.Runtime.CompilerServices.AsyncIteratorMethodBuilder";

    /// <summary>
    /// The box of a <c>Task</c>-returning method (<c>AsyncTaskMethodBuilder&lt;TResult&gt;.AsyncStateMachineBox&lt;TStateMachine&gt;</c>):
    /// the task itself. Its type's last generic argument is the state machine's exact type, even where the code is shared.
    /// </summary>
    public const string TaskBoxType = "System.Runtime.CompilerServices.AsyncTaskMethodBuilder+AsyncStateMachineBox";

    /// <summary>
    /// <see cref="TaskBoxType"/>'s own name, nested in <c>AsyncTaskMethodBuilder&lt;TResult&gt;</c>, and the result type of a
    /// plain <c>Task</c>'s: the box type of a state machine made from the state machine alone (what the async events name).
    /// </summary>
    public const string TaskBoxNestedType = "AsyncStateMachineBox`1";

    public const string VoidTaskResultType = "System.Threading.Tasks.VoidTaskResult";

    /// <summary>The box debug mode's <c>IncompleteAsyncMethod</c> event needs (a finalizable <see cref="TaskBoxType"/>).</summary>
    public const string DebugTaskBoxType = "System.Runtime.CompilerServices.AsyncTaskMethodBuilder+DebugFinalizableAsyncStateMachineBox";

    /// <summary>The box of a pooled <c>ValueTask</c> method (<c>[AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]</c>): not a task.</summary>
    public const string PooledBoxType = "System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder+StateMachineBox";

    /// <summary>
    /// The state machine, in a box (public field). A class state machine (Debug builds) is dropped when the method
    /// completes: a completed box keeps its type but holds null here.
    /// </summary>
    public const string BoxStateMachine = "StateMachine";

    /// <summary>The interface every box implements, task or not.</summary>
    public const string BoxInterface = "System.Runtime.CompilerServices.IAsyncStateMachineBox";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(TaskBoxType, BoxStateMachine),
        new(DebugTaskBoxType, BoxStateMachine),
        new(PooledBoxType, BoxStateMachine),
        new(BoxInterface),
        new(IteratorBuilderType, IteratorBuilderTask),
        .. AwaiterLayout.Types,
    ];
}

/// <summary>The values of <see cref="StateMachineLayout.State"/>, and AsyncLens's own for a state it could not read.</summary>
internal static class AsyncState
{
    /// <summary>Running a step now (also: created, not started yet).</summary>
    public const int Running = -1;

    /// <summary>Completed (or, for an async iterator, finished).</summary>
    public const int Done = -2;

    /// <summary>AsyncLens's: no state was read (not a box, a field missing, a class state machine already dropped).</summary>
    public const int Unknown = int.MinValue;

    /// <summary>Parked at await N (0 is the first await of the method).</summary>
    public static bool IsParked(int state) => state >= 0;

    /// <summary>For an async iterator: below <see cref="Done"/> it is paused at a <c>yield return</c> (or not started).</summary>
    public static bool IsPausedIterator(int state) => state < Done;
}

/// <summary>
/// Where an awaiter keeps what it awaits. <c>TaskAwaiter</c>s (plain and configured, generic or not) hold the task in
/// <see cref="Task"/>; <c>ValueTaskAwaiter</c>s hold a ValueTask in <see cref="ValueTask"/>, whose <see cref="ValueTaskObject"/>
/// is a task or an <c>IValueTaskSource</c> (null when it completed synchronously). A <see cref="YieldAwaiterType"/> holds nothing.
/// </summary>
internal static class AwaiterLayout
{
    public const string Task = "m_task";

    public const string ValueTask = "_value";

    public const string ValueTaskObject = "_obj";

    public const string YieldAwaiterType = "System.Runtime.CompilerServices.YieldAwaitable+YieldAwaiter";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new("System.Runtime.CompilerServices.TaskAwaiter", Task),
        new("System.Runtime.CompilerServices.ConfiguredTaskAwaitable+ConfiguredTaskAwaiter", Task),
        new("System.Runtime.CompilerServices.ValueTaskAwaiter", ValueTask),
        new("System.Runtime.CompilerServices.ConfiguredValueTaskAwaitable+ConfiguredValueTaskAwaiter", ValueTask),
        new("System.Threading.Tasks.ValueTask", ValueTaskObject),
        new(YieldAwaiterType),
    ];
}
