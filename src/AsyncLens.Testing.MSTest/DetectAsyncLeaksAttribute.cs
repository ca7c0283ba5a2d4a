using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace AsyncLens.Testing;

/// <summary>
/// In place of <c>[TestClass]</c>: fails each MSTest test of the class that leaves async work behind
/// (<see cref="AsyncLeakScope"/>). <see cref="AllowPendingTasksAttribute"/> on a test or the class lets it leave pending work.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = true)]
public sealed class DetectAsyncLeaksAttribute : TestClassAttribute
{
    /// <summary>How long a test's work may still finish after it ends, in milliseconds. Default 100.</summary>
    public int GracePeriodMs { get; set; } = 100;

    private static readonly AsyncLocal<AsyncLeakScope?> s_global = new();

    /// <summary>
    /// Assembly-wide (MSTest has no assembly-level attribute hook): call from a <c>[GlobalTestInitialize]</c> method of a
    /// <c>[TestClass]</c> in the test project, and <see cref="Verify(TestContext)"/> from its <c>[GlobalTestCleanup]</c>.
    /// A test of a class that has <c>[DetectAsyncLeaks]</c> is checked by it, not twice.
    /// </summary>
    public static void Begin(TestContext context, int gracePeriodMs = 100)
    {
        ArgumentNullException.ThrowIfNull(context);
        // MSTest runs the global initialize, the test and the global cleanup on one flow: the scope set here is the test's.
        if (AsyncLeakScope.Current is not null)
            return;
        s_global.Value = AsyncLeakScope.Begin(new AsyncLeakOptions
        {
            GracePeriod = TimeSpan.FromMilliseconds(gracePeriodMs),
            AllowPendingReason = AllowPendingTasksAttribute.For(TestMethod(context)),
            TestName = $"{context.FullyQualifiedTestClassName}.{context.TestName}",
        });
    }

    /// <summary>The check of <see cref="Begin"/>'s scope: throws <see cref="AsyncLeakException"/>, failing the test, when it left work behind.</summary>
    public static void Verify(TestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (s_global.Value is not { } scope)
            return;
        s_global.Value = null;
        using (scope)
            scope.Verify();
    }

    private static System.Reflection.MethodInfo? TestMethod(TestContext context) =>
        context.FullyQualifiedTestClassName is { } name && context.TestName is { } method
            ? AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(name)).FirstOrDefault(t => t is not null)?.GetMethods().FirstOrDefault(m => m.Name == method)
            : null;

    /// <inheritdoc/>
    public override TestMethodAttribute? GetTestMethodAttribute(TestMethodAttribute testMethodAttribute) =>
        testMethodAttribute is null or LeakCheckedTestMethodAttribute ? testMethodAttribute : new LeakCheckedTestMethodAttribute(testMethodAttribute, GracePeriodMs);
}

/// <summary>A test method run inside an <see cref="AsyncLeakScope"/>: a leak turns a passed result into a failed one.</summary>
// Made by DetectAsyncLeaks only, with the wrapped attribute's declaring file and line (the analyzer wants them as caller info).
#pragma warning disable MSTEST0057
internal sealed class LeakCheckedTestMethodAttribute(TestMethodAttribute inner, int gracePeriodMs)
    : TestMethodAttribute(inner.DeclaringFilePath, inner.DeclaringLineNumber ?? -1)
#pragma warning restore MSTEST0057
{
    public override async Task<TestResult[]> ExecuteAsync(ITestMethod testMethod)
    {
        ArgumentNullException.ThrowIfNull(testMethod);
        using var scope = AsyncLeakScope.Begin(new AsyncLeakOptions
        {
            GracePeriod = TimeSpan.FromMilliseconds(gracePeriodMs),
            AllowPendingReason = AllowPendingTasksAttribute.For(testMethod.MethodInfo),
            TestName = $"{testMethod.TestClassName}.{testMethod.TestMethodName}",
        });
        var results = await inner.ExecuteAsync(testMethod).ConfigureAwait(false);
        try
        {
            await scope.VerifyAsync().ConfigureAwait(false);
        }
        catch (AsyncLeakException leak)
        {
            foreach (var result in results.Where(r => r.Outcome == UnitTestOutcome.Passed))
            {
                result.Outcome = UnitTestOutcome.Failed;
                result.TestFailureException = leak;
            }
        }
        return results;
    }
}
