namespace AsyncLens.Runtime.Layout;

/// <summary>
/// .NET 11's runtime-async methods (the BCL is compiled so; user code may opt in). They have no state machine box: a
/// suspended call chain is a singly linked list of runtime <see cref="ContinuationType"/> objects, innermost frame
/// first, kept by the one <see cref="TaskType"/> made where synchronous code called into the chain (a Task exists only
/// there). Read from the runtime's source (CoreCLR's <c>AsyncHelpers.CoreCLR.cs</c>) and checked against the shipped
/// 11.0.0 System.Private.CoreLib (decompiled). Absent before .NET 11 (<see cref="Since"/>).
/// <para>
/// The list, head first: what the chain awaits (<see cref="TaskContinuationType"/> for a Task,
/// <see cref="ValueTaskSourceContinuationType"/> for a value-task source; nothing for a custom awaiter or Task.Yield,
/// which got the task's <see cref="TaskLayout.Action"/>), then one object per suspended method, the innermost first,
/// up to the method the synchronous caller called. A method's object is of a type the JIT makes per shape (not per
/// method): <c>GetType()</c> on it throws <see cref="NotSupportedException"/>, so the readers never ask it (compiled
/// field reads cast to <see cref="ContinuationType"/> only). Its method is found from <see cref="DiagnosticIP"/>, a
/// native code address inside the suspended method, as the runtime does for an exception's async frames
/// (<see cref="AddFrameToException"/>): that gives the method and the IL offset of the await it suspended at.
/// </para>
/// </summary>
internal static class RuntimeAsyncLayout
{
    /// <summary>The runtime major version that has this group.</summary>
    public const int Since = 11;

    /// <summary>
    /// The Task of a runtime-async chain (<c>Task&lt;T&gt;</c>; its <see cref="TaskLayout.Action"/> is its own
    /// <c>DispatchContinuations</c>, which resumes the chain).
    /// </summary>
    public const string TaskType = "System.Runtime.CompilerServices.AsyncHelpers+RuntimeAsyncTask";

    /// <summary>
    /// The TPL operation name of a chain's task (<c>TraceOperationBegin</c>, raised with the async debugger's flag on,
    /// which the task registry turns on): its dispatches are bracketed by <c>TraceSynchronousWorkBegin/End</c> with its id.
    /// </summary>
    public const string OperationName = TaskType;

    /// <summary>object, on Task: the chain's head while it is suspended; null while its dispatcher runs it.</summary>
    public const string TaskChain = "m_stateObject";

    public const string ContinuationType = "System.Runtime.CompilerServices.Continuation";

    /// <summary>Continuation: the frame that called this one (the next one out).</summary>
    public const string Next = "Next";

    /// <summary>ResumeInfo*: a static struct per suspension point of a method (null for the runtime's own).</summary>
    public const string ResumeInfo = "ResumeInfo";

    /// <summary>int: which suspension point of its method the frame is at.</summary>
    public const string State = "State";

    public const string ResumeInfoType = "System.Runtime.CompilerServices.ResumeInfo";

    /// <summary>void*, in <see cref="ResumeInfoType"/>: a native address in the suspended method; null for the runtime's own continuations.</summary>
    public const string DiagnosticIP = "DiagnosticIP";

    /// <summary>Where <see cref="DiagnosticIP"/> is in <see cref="ResumeInfoType"/>, in pointers (after the resume function's), for a reader without the struct's field offsets.</summary>
    public const int DiagnosticIPIndex = 1;

    /// <summary>The head when the chain awaits a Task, in the awaited task's <see cref="TaskLayout.ContinuationObject"/> too.</summary>
    public const string TaskContinuationType = "System.Runtime.CompilerServices.RuntimeAsyncTaskContinuation";

    /// <summary>Task, in <see cref="TaskContinuationType"/>: the awaited task.</summary>
    public const string AwaitedTask = "Task";

    /// <summary>Task, in <see cref="TaskContinuationType"/>: the chain's <see cref="TaskType"/> that waits (set once it suspended).</summary>
    public const string WaitingTask = "RuntimeAsyncTask";

    /// <summary>
    /// The head when the chain awaits a value-task source (a socket, a channel); the source's continuation state is
    /// the chain's <see cref="TaskType"/>.
    /// </summary>
    public const string ValueTaskSourceContinuationType = "System.Runtime.CompilerServices.AsyncHelpers+ValueTaskSourceContinuation";

    /// <summary>object, in <see cref="ValueTaskSourceContinuationType"/>: the awaited source.</summary>
    public const string AwaitedSource = "Source";

    /// <summary>
    /// static, in <c>AsyncHelpers</c>: <c>AddContinuationToExInternal(void* diagnosticIP, Exception)</c> appends the
    /// frame of a <see cref="DiagnosticIP"/> to an exception's stack trace (the method and its IL offset).
    /// </summary>
    public const string HelpersType = "System.Runtime.CompilerServices.AsyncHelpers";

    public const string AddFrameToException = "AddContinuationToExInternal";

    /// <summary>
    /// <c>MethodImplAttributes.Async</c>: a method compiled as runtime async. A frame whose method lacks it is the
    /// runtime's thunk for a Task-returning method that is not async (it awaits the task that method returned): not a
    /// frame a person wrote, and not one .NET 10 showed.
    /// </summary>
    public const int AsyncMethodImpl = 0x2000;

    /// <summary>
    /// A frame's live variables (<c>this</c>, the parameters it still uses) are fields of its continuation object that
    /// no metadata describes: found as the GC finds them, from the object's MethodTable. <c>MethodTable.m_dwFlags</c>
    /// (uint, offset 0) has <see cref="ContainsGCPointersFlag"/> set when the type holds references; then its GC
    /// description lies just below the MethodTable: the number of series (a pointer-sized count, positive for a
    /// class) at MethodTable - pointer size, below it the series, highest first, each {size - the object's base size,
    /// offset from the object's start} in pointers; the base size (uint) is at <see cref="BaseSizeOffset"/>. The same
    /// layout ClrMD reads from outside (<c>ClrObject.EnumerateReferences</c>); unchanged since .NET Core 1.
    /// </summary>
    public const uint ContainsGCPointersFlag = 0x01000000;

    /// <summary>See <see cref="ContainsGCPointersFlag"/>: set for arrays and strings, whose GC description this reader does not read.</summary>
    public const uint HasComponentSizeFlag = 0x80000000;

    /// <summary>See <see cref="ContainsGCPointersFlag"/>.</summary>
    public const int BaseSizeOffset = 4;

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(RuntimeLayout.CoreLib, TaskType, [], [], Since),
        new(RuntimeLayout.CoreLib, TaskLayout.Type, [TaskChain], [], Since),
        new(RuntimeLayout.CoreLib, ContinuationType, [Next, ResumeInfo, State], [], Since),
        new(RuntimeLayout.CoreLib, ResumeInfoType, [DiagnosticIP], [], Since),
        new(RuntimeLayout.CoreLib, TaskContinuationType, [AwaitedTask, WaitingTask], [], Since),
        new(RuntimeLayout.CoreLib, ValueTaskSourceContinuationType, [AwaitedSource], [], Since),
        new(RuntimeLayout.CoreLib, HelpersType, [], [], Since, [AddFrameToException]),
    ];
}
