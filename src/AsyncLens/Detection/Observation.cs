using AsyncLens.Runtime;

namespace AsyncLens.Detection;

/// <summary>Whether anything will see a task's outcome: an async method, a blocked thread or a callback waits for it,
/// directly or through combinators (Task.WhenAll, Task.Run's unwrap).</summary>
internal static class Observation
{
    /// <param name="task">The task whose outcome is in question.</param>
    /// <param name="promise">The innermost combinator with nobody waiting on it, when that is where the chain ends.</param>
    public static bool Of(Task task, out Task? promise)
    {
        promise = null;
        var awaiters = new List<Awaiter>(2);
        var current = task;
        for (var depth = 0; depth < 16; depth++)
        {
            awaiters.Clear();
            Awaiters.Of(current, awaiters);
            Task? combinator = null;
            foreach (var a in awaiters)
            {
                if (a.Kind != AwaiterKind.AsyncWork || a.Node is not Task t || BoxInfo.Of(t) is not null)
                    return true;
                combinator ??= t;
            }
            if (combinator is null)
                return false;
            promise = combinator;
            current = combinator;
        }
        return true;
    }
}
