namespace AsyncLens.Testing;

/// <summary>
/// On a test method or class: the test leaves pending tasks or timers on purpose (a long-lived background loop), so the
/// <c>DetectAsyncLeaks</c> adapters do not fail it for them; an unobserved exception still fails it.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, Inherited = true)]
public sealed class AllowPendingTasksAttribute(string reason) : Attribute
{
    /// <summary>Why the work is left running.</summary>
    public string Reason { get; } = string.IsNullOrWhiteSpace(reason) ? throw new ArgumentException("Say why the test may leave work pending.", nameof(reason)) : reason;

    /// <summary>The reason an attribute on <paramref name="method"/> or its class gives, if any.</summary>
    public static string? For(System.Reflection.MethodInfo? method)
    {
        if (method is null)
            return null;
        var attribute = method.GetCustomAttributes(typeof(AllowPendingTasksAttribute), true).FirstOrDefault()
            ?? method.ReflectedType?.GetCustomAttributes(typeof(AllowPendingTasksAttribute), true).FirstOrDefault();
        return (attribute as AllowPendingTasksAttribute)?.Reason;
    }
}
