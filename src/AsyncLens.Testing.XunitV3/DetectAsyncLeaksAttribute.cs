using System.Reflection;
using System.Runtime.CompilerServices;
using Xunit.v3;

namespace AsyncLens.Testing;

/// <summary>
/// Fails each xunit v3 test it covers that leaves async work behind (<see cref="AsyncLeakScope"/>): on the assembly
/// (<c>[assembly: DetectAsyncLeaks]</c>), a class or a method. <see cref="AllowPendingTasksAttribute"/> on a test or its
/// class lets it leave pending work.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DetectAsyncLeaksAttribute : BeforeAfterTestAttribute
{
    private static readonly ConditionalWeakTable<IXunitTest, AsyncLeakScope> s_scopes = new();

    /// <summary>How long a test's work may still finish after it ends, in milliseconds. Default 100.</summary>
    public int GracePeriodMs { get; set; } = 100;

    /// <inheritdoc/>
    public override void Before(MethodInfo methodUnderTest, IXunitTest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        s_scopes.AddOrUpdate(test, AsyncLeakScope.Begin(new AsyncLeakOptions
        {
            GracePeriod = TimeSpan.FromMilliseconds(GracePeriodMs),
            AllowPendingReason = AllowPendingTasksAttribute.For(methodUnderTest),
            TestName = test.TestDisplayName,
        }));
    }

    /// <inheritdoc/>
    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (!s_scopes.TryGetValue(test, out var scope))
            return;
        s_scopes.Remove(test);
        using (scope)
            scope.Verify();
    }
}
