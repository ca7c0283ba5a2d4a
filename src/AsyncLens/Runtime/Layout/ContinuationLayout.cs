namespace AsyncLens.Runtime.Layout;

/// <summary>
/// What <see cref="TaskLayout.ContinuationObject"/> holds, and where each shape keeps the work that waits. SOS
/// <c>dumpasync</c> resolves parents the same way. Besides these: a task or an async method box itself (the awaiter
/// is that work), and an <see cref="Action"/> whose <see cref="TaskLayout.DelegateTarget"/> is a box or a
/// <see cref="WrapperType"/>.
/// </summary>
internal static class ContinuationLayout
{
    /// <summary>The runtime's wrapper around an Action that resumes a box (with a context to flow).</summary>
    public const string WrapperType = "System.Runtime.CompilerServices.AsyncMethodBuilderCore+ContinuationWrapper";

    /// <summary>Action, in <see cref="WrapperType"/>.</summary>
    public const string WrapperContinuation = "_continuation";

    /// <summary>An await that must resume on a context or scheduler (and its subclasses).</summary>
    public const string AwaitContinuationType = "System.Threading.Tasks.AwaitTaskContinuation";

    /// <summary>Action, in <see cref="AwaitContinuationType"/>.</summary>
    public const string AwaitContinuationAction = "m_action";

    /// <summary>A <c>ContinueWith</c> task waiting for its antecedent.</summary>
    public const string ContinueWithType = "System.Threading.Tasks.ContinueWithTaskContinuation";

    /// <summary>Task, in <see cref="ContinueWithType"/>: the continuation task.</summary>
    public const string ContinueWithTask = "m_task";

    /// <summary>A thread blocked in <c>Wait()</c> / <c>.Result</c> / <c>GetAwaiter().GetResult()</c>: the event it sleeps on.</summary>
    public const string SynchronousWaitType = "System.Threading.Tasks.Task+SetOnInvokeMres";

    /// <summary>Several continuations: a <c>List&lt;object&gt;</c>.</summary>
    public const string ListType = "System.Collections.Generic.List";

    public const string ListItems = "_items";

    public const string ListSize = "_size";

    internal static IEnumerable<RuntimeType> Types =>
    [
        new(WrapperType, WrapperContinuation),
        new(AwaitContinuationType, AwaitContinuationAction),
        new(ContinueWithType, ContinueWithTask),
        new(SynchronousWaitType),
        new(ListType, ListItems, ListSize),
    ];
}
