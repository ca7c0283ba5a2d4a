using AsyncLens.Inventory;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Threads blocked in <c>.Result</c> / <c>.Wait()</c> / <c>GetAwaiter().GetResult()</c>, linked to the task they wait
/// for: the task's continuation holds the event the thread sleeps on (<c>SetOnInvokeMres</c>), and that event is a
/// local on the thread's stack. The thread becomes the task's waiter in the graph (<c>Thread 7, blocked in
/// Handler.Get() at Api.cs:12</c>), under the work it runs, if any (a Task.Run delegate, an async method's step).
/// Read only when some task has a blocked thread: walking stacks costs the paused process time.
/// </summary>
internal static class BlockedThreads
{
    public static void Link(ClrRuntime runtime, RemoteSymbols symbols, HeapTasks tasks, IReadOnlyDictionary<ulong, int> blockedOn)
    {
        var linked = 0;
        foreach (var thread in runtime.Threads)
        {
            if (!thread.IsAlive)
                continue;
            int? waited = null;
            foreach (var root in thread.EnumerateStackRoots())
            {
                if (root.Object is { IsNull: false } obj && blockedOn.TryGetValue(obj.Address, out var index))
                {
                    waited = index;
                    break;
                }
            }
            if (waited is null)
                continue;
            var frames = ThreadStacks.Frames(thread, symbols, out var moveNexts);
            tasks.AddBlockedThread(thread.ManagedThreadId, Text(thread, frames), waited.Value, ThreadStacks.RunningWork(thread, tasks, moveNexts));
            if (++linked == blockedOn.Count)
                return;
        }
    }

    private static NodeText Text(ClrThread thread, List<ThreadFrame> frames)
    {
        var at = WhereItBlocks(frames);
        var title = FormattableString.Invariant($"Thread {thread.ManagedThreadId}, blocked");
        return at is null ? new NodeText(title, null, null) : new NodeText($"{title} in {at.Method}", at.At, null);
    }

    /// <summary>
    /// Where the thread blocks, as its user wrote it: the first frame of the app's own code (<c>CodeOrigin</c>: a
    /// package's frame may have a line, from its PDB, and is not the user's); else the first with a source line (the
    /// runtime's own have none); else the first of a module outside the runtime's library (not a dynamic method: a
    /// Release build may have inlined the user's lambda into one).
    /// </summary>
    internal static ThreadFrame? WhereItBlocks(IReadOnlyList<ThreadFrame> frames) =>
        frames.FirstOrDefault(f => f.App) ?? frames.FirstOrDefault(f => f.At is not null)
        ?? frames.FirstOrDefault(f => f.Module is not null and not "System.Private.CoreLib.dll") ?? frames.FirstOrDefault();
}
