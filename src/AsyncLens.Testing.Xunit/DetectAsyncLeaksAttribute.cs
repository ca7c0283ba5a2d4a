using System.Reflection;
using Xunit.Sdk;

namespace AsyncLens.Testing;

/// <summary>
/// Fails each xunit v2 test it covers that leaves async work behind (<see cref="AsyncLeakScope"/>): on the assembly
/// (<c>[assembly: DetectAsyncLeaks]</c>; xunit 2.9 runs an assembly's <see cref="BeforeAfterTestAttribute"/>s around every
/// test), a class or a method. <see cref="AllowPendingTasksAttribute"/> on a test or its class lets it leave pending work.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DetectAsyncLeaksAttribute : BeforeAfterTestAttribute
{
    /// <summary>How long a test's work may still finish after it ends, in milliseconds. Default 100.</summary>
    public int GracePeriodMs { get; set; } = 100;

    /// <inheritdoc/>
    public override void Before(MethodInfo methodUnderTest)
    {
        ArgumentNullException.ThrowIfNull(methodUnderTest);
        // xunit v2 calls every attribute's Before, the test and every After on one flow. With the attribute on the
        // assembly and on a class or method, the first Before begins the one scope, with the closest attribute's settings.
        if (AsyncLeakScope.Current is { IsDisposed: false })
            return;
        AsyncLeakScope.Begin(new AsyncLeakOptions
        {
            GracePeriod = TimeSpan.FromMilliseconds(Closest(methodUnderTest)?.GracePeriodMs ?? GracePeriodMs),
            AllowPendingReason = AllowPendingTasksAttribute.For(methodUnderTest),
            TestName = $"{methodUnderTest.ReflectedType?.FullName}.{methodUnderTest.Name}",
        });
    }

    /// <inheritdoc/>
    public override void After(MethodInfo methodUnderTest)
    {
        if (AsyncLeakScope.Current is not { IsDisposed: false } scope)
            return;
        using (scope)
            scope.Verify();
    }

    private static DetectAsyncLeaksAttribute? Closest(MethodInfo method) =>
        method.GetCustomAttribute<DetectAsyncLeaksAttribute>()
        ?? method.ReflectedType?.GetCustomAttribute<DetectAsyncLeaksAttribute>()
        ?? method.ReflectedType?.Assembly.GetCustomAttribute<DetectAsyncLeaksAttribute>();
}
