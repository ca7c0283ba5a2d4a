using System.Reflection;
using Xunit.Sdk;

namespace AsyncLens.Testing;

/// <summary>
/// Fails each xunit v2 test it covers that leaves async work behind (<see cref="AsyncLeakScope"/>): on a class or a
/// method (xunit v2 has no assembly-wide hook). <see cref="AllowPendingTasksAttribute"/> on a test or its class lets it
/// leave pending work.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DetectAsyncLeaksAttribute : BeforeAfterTestAttribute
{
    /// <summary>How long a test's work may still finish after it ends, in milliseconds. Default 100.</summary>
    public int GracePeriodMs { get; set; } = 100;

    /// <inheritdoc/>
    public override void Before(MethodInfo methodUnderTest)
    {
        ArgumentNullException.ThrowIfNull(methodUnderTest);
        // xunit v2 calls Before, the test and After on one flow: the scope Begin sets is still current in After.
        AsyncLeakScope.Begin(new AsyncLeakOptions
        {
            GracePeriod = TimeSpan.FromMilliseconds(GracePeriodMs),
            AllowPendingReason = AllowPendingTasksAttribute.For(methodUnderTest),
            TestName = $"{methodUnderTest.ReflectedType?.FullName}.{methodUnderTest.Name}",
        });
    }

    /// <inheritdoc/>
    public override void After(MethodInfo methodUnderTest)
    {
        if (AsyncLeakScope.Current is not { } scope)
            return;
        using (scope)
            scope.Verify();
    }
}
