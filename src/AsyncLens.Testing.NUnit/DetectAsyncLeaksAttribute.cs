using System.Runtime.CompilerServices;
using NUnit.Framework;
using NUnit.Framework.Interfaces;

namespace AsyncLens.Testing;

/// <summary>
/// Fails each NUnit test it covers that leaves async work behind (<see cref="AsyncLeakScope"/>): on the assembly
/// (<c>[assembly: DetectAsyncLeaks]</c>), a fixture or a test. <see cref="AllowPendingTasksAttribute"/> on a test or its
/// fixture lets it leave pending work.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DetectAsyncLeaksAttribute : Attribute, ITestAction
{
    private static readonly ConditionalWeakTable<ITest, AsyncLeakScope> s_scopes = new();

    /// <summary>How long a test's work may still finish after it ends, in milliseconds. Default 100.</summary>
    public int GracePeriodMs { get; set; } = 100;

    /// <summary>Each test, wherever the attribute is; and the suites, for the run-end check after the assembly's.</summary>
    public ActionTargets Targets => ActionTargets.Test | ActionTargets.Suite;

    /// <inheritdoc/>
    public void BeforeTest(ITest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (test.IsSuite)
            return;
        s_scopes.AddOrUpdate(test, AsyncLeakScope.Begin(new AsyncLeakOptions
        {
            GracePeriod = TimeSpan.FromMilliseconds(GracePeriodMs),
            AllowPendingReason = AllowPendingTasksAttribute.For(test.Method?.MethodInfo),
            TestName = test.FullName,
        }));
    }

    /// <summary>
    /// The run-end check as a failure <c>dotnet test</c> shows: call it from the <c>[OneTimeTearDown]</c> of a
    /// <c>[SetUpFixture]</c> outside any namespace (it runs after every test of the assembly). The adapter prints
    /// <c>TearDown failed for test fixture NAME</c> and the text, and the run exits 1; a failure of the assembly suite
    /// itself (the attribute's own check, below) is dropped by it (nunit3-vs-adapter#1290).
    /// </summary>
    public static void VerifyRun()
    {
        if (AsyncLeakRun.FindUnclaimed() is { Count: > 0 } unclaimed)
            Assert.Fail(AsyncLeakRun.Describe(unclaimed));
    }

    /// <inheritdoc/>
    public void AfterTest(ITest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (test.IsSuite)
        {
            // After the whole assembly (the attribute on it): what no test claimed, once, as the assembly's failure.
            if (test.TestType == "Assembly" && AsyncLeakRun.FindUnclaimed() is { Count: > 0 } unclaimed)
            {
                TestContext.Progress.WriteLine(AsyncLeakRun.Describe(unclaimed));
                Assert.Fail(AsyncLeakRun.Describe(unclaimed));
            }
            return;
        }
        if (!s_scopes.TryGetValue(test, out var scope))
            return;
        s_scopes.Remove(test);
        using (scope)
        {
            try
            {
                scope.Verify();
            }
            catch (AsyncLeakException ex)
            {
                // NUnit prints an exception's properties under its message: the failure is the message alone.
                Assert.Fail(ex.Message);
            }
        }
    }
}
