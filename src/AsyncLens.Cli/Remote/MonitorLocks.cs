using AsyncLens.Diagnosis;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Which lock a thread blocked in <c>Monitor.Enter</c> (<c>lock (x)</c>) waits for, and who holds it: a thread waits
/// on a contended monitor through its object's sync block (the runtime inflates a thin lock to wait on it), which
/// records the holding thread; the object is a local of the thread's frames (a GC root of its stack). The first root,
/// from the top, whose monitor another thread holds is the one waited for.
/// </summary>
internal static class MonitorLocks
{
    public static LockWait? Waited(ClrRuntime runtime, ClrThread thread, List<ThreadFrame> frames)
    {
        var top = frames.Find(f => !f.Native);
        if (top?.RuntimeName is not { } name || !name.StartsWith("System.Threading.Monitor.", StringComparison.Ordinal) || name.EndsWith(".Wait", StringComparison.Ordinal))
            return null;
        foreach (var root in thread.EnumerateStackRoots())
        {
            if (root.Object is not { IsNull: false } obj)
                continue;
            var holder = obj.SyncBlock is { IsMonitorHeld: true } block ? runtime.Threads.FirstOrDefault(t => t.Address == block.HoldingThreadAddress)
                : obj.GetThinLock()?.Thread;
            if (holder is not null && holder.Address != thread.Address)
                return new LockWait(ShortName(obj.Type?.Name), holder.ManagedThreadId);
        }
        return null;
    }

    // System.Object -> Object; a generic type by its definition's name without its arity (List`1 -> List) (the lock's type only helps tell locks apart).
    private static string ShortName(string? name)
    {
        if (name is null)
            return "object";
        var definition = RemoteTypeNames.Parse(name).Definition;
        var shortName = definition[(definition.LastIndexOf('.') + 1)..];
        return shortName.IndexOf('`') is var tick and > 0 ? shortName[..tick] : shortName;
    }
}
