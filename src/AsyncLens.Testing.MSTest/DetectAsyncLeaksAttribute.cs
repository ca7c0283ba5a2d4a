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
