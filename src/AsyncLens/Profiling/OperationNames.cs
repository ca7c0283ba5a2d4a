namespace AsyncLens.Profiling;

/// <summary>What a TPL operation is, from the name its <c>TraceOperationBegin</c> event gives it.</summary>
internal static class OperationNames
{
    public const string AsyncMethod = "Async: ";
    public const string Delegate = "Task: ";
    public const string ContinueWith = "Task.ContinueWith: ";

    /// <summary>The prefixes a method's name follows in an operation name.</summary>
    public static readonly string[] Prefixes = [AsyncMethod, Delegate, ContinueWith];

    /// <summary>
    /// A delegate task's operation (<c>"Task: &lt;Main&gt;b__0_2"</c>, <c>"Task: FetchAsync"</c>) runs the method whose
    /// state machine a box's operation names (<c>"Async: &lt;&lt;Main&gt;b__0_2&gt;d"</c>, <c>"Async: &lt;FetchAsync&gt;d__5"</c>),
    /// as far as the names tell (two methods of one name are not told apart).
    /// </summary>
    public static bool Runs(string? task, string? box)
    {
        if (task is null || box is null || !box.StartsWith(AsyncMethod, StringComparison.Ordinal))
            return false;
        var method = KindOf(task) switch
        {
            OperationKind.Delegate => task.AsSpan(Delegate.Length),
            OperationKind.ContinueWith => task.AsSpan(ContinueWith.Length),
            _ => default,
        };
        var stateMachine = box.AsSpan(AsyncMethod.Length);
        if (method.IsEmpty || stateMachine.Length < method.Length + 3 || stateMachine[0] != '<' || !stateMachine[1..].StartsWith(method, StringComparison.Ordinal))
            return false;
        var rest = stateMachine[(method.Length + 1)..];
        return rest is ">d" || rest.StartsWith(">d__", StringComparison.Ordinal);
    }

    public static OperationKind KindOf(string? name)
    {
        if (name is null)
            return OperationKind.Other;
        if (name.StartsWith(AsyncMethod, StringComparison.Ordinal))
            return OperationKind.AsyncMethod;
        if (name.StartsWith(Delegate, StringComparison.Ordinal))
            return OperationKind.Delegate;
        if (name.StartsWith(ContinueWith, StringComparison.Ordinal))
            return OperationKind.ContinueWith;
        // The runtime's combinators: each child that completes says so with a Join (or, for WhenAny's first, a Choice) relation.
        return name is "Task.WhenAll" or "Task.WhenAny" or "Task.Unwrap" || name.StartsWith("TaskFactory.ContinueWhen", StringComparison.Ordinal)
            ? OperationKind.Promise
            : OperationKind.Other;
    }
}

/// <summary>The kinds of TPL operation the profiler follows: methods and delegate tasks are profiled; promises only link a child to its awaiter.</summary>
internal enum OperationKind
{
    /// <summary>Not followed (<c>Task.Delay</c>, ...).</summary>
    Other,

    /// <summary>An async method's box, created at its first await that waits.</summary>
    AsyncMethod,

    /// <summary>A delegate task: <c>Task.Run</c>, <c>Task.Factory.StartNew</c>, a started <c>new Task(...)</c>.</summary>
    Delegate,

    /// <summary>A <c>ContinueWith</c> task (a delegate task run when its antecedent completes).</summary>
    ContinueWith,

    /// <summary><c>Task.WhenAll</c> / <c>WhenAny</c> / <c>Unwrap</c> (<c>Task.Run</c> of an async delegate): a task made of others.</summary>
    Promise,
}
