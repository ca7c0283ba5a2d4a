using AsyncLens.Diagnosis;
using AsyncLens.Runtime.Layout;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Which lock a blocked thread waits to enter, and who holds it. A monitor (<c>lock (x)</c>, <c>Monitor.Enter</c>): a
/// thread waits on a contended one through its object's sync block (the runtime inflates a thin lock to wait on it),
/// which records the holding thread. A <see cref="Lock"/> (.NET 9+) records its holder's operating system thread id in
/// a field, a <see cref="ReaderWriterLockSlim"/>'s write or upgradeable lock its holder's managed id (<see cref="LockLayout"/>); a read lock's holders are
/// counted per thread, not named, so a wait behind readers is not linked. In each case the lock is a local of the
/// waiting thread's frames (a GC root of its stack): the first root, from the top, that another thread holds is the
/// one waited for.
/// </summary>
internal static class LockWaits
{
    private const string Monitor = "System.Threading.Monitor.";
    private const string Lock = LockLayout.LockType + ".";
    private const string ReaderWriter = LockLayout.ReaderWriterType + ".";

    // The lock's own methods sit this near the top: under them only the runtime's wait (WaitHandle, the wait subsystem).
    private const int WaitDepth = 8;

    public static LockWait? Waited(ClrRuntime runtime, ClrThread thread, List<ThreadFrame> frames)
    {
        var kind = Kind(frames);
        if (kind is null)
            return null;
        foreach (var root in thread.EnumerateStackRoots())
        {
            if (root.Object is not { IsNull: false } obj)
                continue;
            var owner = kind switch
            {
                Monitor => MonitorOwner(runtime, obj),
                Lock when obj.Type?.Name == LockLayout.LockType => ByOsId(runtime, obj.ReadField<uint>(LockLayout.LockOwner)),
                ReaderWriter when obj.Type?.Name == LockLayout.ReaderWriterType => WriterOf(obj),
                _ => null,
            };
            if (owner is > 0 && owner != thread.ManagedThreadId)
                return new LockWait(ShortName(obj.Type?.Name), owner.Value);
        }
        return null;
    }

    // Which kind of lock the thread is entering: the first of the locks' methods from the top, with nothing of the
    // app's above it (a thread running its own code is not waiting for a lock, whatever called it).
    private static string? Kind(List<ThreadFrame> frames)
    {
        foreach (var frame in frames.Where(f => !f.Native).Take(WaitDepth))
        {
            if (frame.App || frame.RuntimeName is not { } name)
                return null;
            if (name.StartsWith(Monitor, StringComparison.Ordinal))
                return name.EndsWith(".Wait", StringComparison.Ordinal) ? null : Monitor;
            if (name.StartsWith(Lock, StringComparison.Ordinal))
                return Lock;
            if (name.StartsWith(ReaderWriter, StringComparison.Ordinal))
                return name.Contains("ExitReadLock", StringComparison.Ordinal) ? null : ReaderWriter;
        }
        return null;
    }

    private static int? MonitorOwner(ClrRuntime runtime, ClrObject obj)
    {
        var holder = obj.SyncBlock is { IsMonitorHeld: true } block ? runtime.Threads.FirstOrDefault(t => t.Address == block.HoldingThreadAddress)
            : obj.GetThinLock()?.Thread;
        return holder?.ManagedThreadId;
    }

    // A Lock records its holder by the operating system's thread id (CoreCLR): the thread of that id, by its managed id.
    private static int? ByOsId(ClrRuntime runtime, uint osId) =>
        osId == 0 ? null : runtime.Threads.FirstOrDefault(t => t.OSThreadId == osId)?.ManagedThreadId;

    // The write lock's holder, else the upgradeable read lock's (both exclude a writer); -1 in each when none.
    private static int? WriterOf(ClrObject obj)
    {
        var writer = obj.ReadField<int>(LockLayout.WriteOwner);
        return writer > 0 ? writer : obj.ReadField<int>(LockLayout.UpgradeOwner);
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
