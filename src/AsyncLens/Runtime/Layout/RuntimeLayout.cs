namespace AsyncLens.Runtime.Layout;

/// <summary>
/// The runtime's private layout that AsyncLens reads, in one place: the names of the types and fields, the values
/// of the states, and what each means. Two readers stand on it: the engine in-process (reflection and compiled field
/// readers, <c>Runtime/</c>) and the CLI from outside (ClrMD over another process's heap, <c>Remote/HeapLayouts.cs</c>).
/// None of it is public API: a runtime update may rename or remove any of it. <see cref="Types"/> lists every name,
/// and a test resolves each on the running runtime (tests/AsyncLens.Tests/Runtime/RuntimeLayoutTests.cs), so a
/// runtime that changed them fails that one test, loudly, instead of making the readers quietly see less.
/// <para>
/// Checked on <see cref="CheckedOn"/>. The walker of async work written as compiler state machines
/// (<see cref="StateMachineLayout"/>: boxes, <c>&lt;&gt;1__state</c>, awaiter fields, chained through
/// <see cref="TaskLayout.ContinuationObject"/>) is one group of <see cref="Types"/>; .NET 11's runtime-async methods,
/// suspended as chains of runtime <c>Continuation</c> objects (<see cref="RuntimeAsyncLayout"/>, checked on
/// <see cref="CheckedOnRuntimeAsync"/>), are another group beside it, required only from the runtime that has them
/// (<see cref="RuntimeType.Since"/>).
/// </para>
/// </summary>
internal static class RuntimeLayout
{
    public const string CheckedOn = ".NET 10.0.12 (Linux x64)";

    public const string CheckedOnRuntimeAsync = ".NET 11.0.0 (Linux x64)";

    public const string CoreLib = "System.Private.CoreLib";

    /// <summary>Every private type and field the readers use, by group.</summary>
    public static IReadOnlyList<RuntimeType> Types { get; } =
    [
        .. TaskLayout.Types,
        .. ContinuationLayout.Types,
        .. StateMachineLayout.Types,
        .. RuntimeAsyncLayout.Types,
        .. AwaitedLayout.Types,
        .. ThreadPoolLayout.Types,
        .. CancellationLayout.Types,
        .. ContextLayout.Types,
        .. LockLayout.Types,
    ];
}

/// <summary>
/// One private type the readers use: its assembly, its name as a definition (nested types joined by <c>+</c>, no generic
/// arity or arguments: <see cref="RuntimeNames.Definition(string)"/>), and the fields read from it (on the type or one
/// of its bases). When several types share the definition name (<c>WhenAllPromise</c> and <c>WhenAllPromise`1</c>),
/// each field is on one of them. <see cref="Since"/>: the runtime major version that has it (0: every supported one);
/// <see cref="Until"/>: the last one that has it (0: every one since), for a name a later runtime changed;
/// <see cref="Methods"/>: static methods called on it.
/// </summary>
internal sealed record RuntimeType(string Assembly, string Name, string[] Fields, string[]? StaticFields = null, int Since = 0, string[]? Methods = null, int Until = 0)
{
    public RuntimeType(string name, params string[] fields)
        : this(RuntimeLayout.CoreLib, name, fields)
    {
    }
}
