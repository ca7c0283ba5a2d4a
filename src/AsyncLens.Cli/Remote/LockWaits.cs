using AsyncLens.Diagnosis;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Which lock (or event) a blocked thread waits on, and who holds it. Where the runtime records the holder: a monitor
/// (<c>lock (x)</c>, <c>Monitor.Enter</c>: its object's sync block, the runtime inflates a thin lock to wait on it), a
/// <see cref="Lock"/> (.NET 9+: its holder's operating system thread id), a <see cref="ReaderWriterLockSlim"/>'s write or
/// upgradeable lock (its holder's managed id, <see cref="LockLayout"/>): the lock is a local of the waiting thread's
/// frames (a GC root of its stack), the first root from the top that another thread holds. Where it does not (a
/// <see cref="SemaphoreSlim"/> taken with <c>Wait()</c>, a read lock, a <see cref="Mutex"/> or <see cref="Semaphore"/>,
/// whose owner on Linux lives in the runtime's native wait subsystem): the lock is what the app's call waits on (its
/// receiver, from the call's IL), and its holder a thread whose app frame is inside a try whose finally releases that
/// same object (<see cref="LockCode"/>); none found, the holder is not named. An event's wait has no holder.
/// </summary>
internal static class LockWaits
{
    private const string Monitor = "System.Threading.Monitor.";
    private const string MonitorWait = "System.Threading.Monitor.Wait";
    private const string Lock = LockLayout.LockType + ".";
    private const string ReaderWriter = LockLayout.ReaderWriterType + ".";
    private const string Semaphore = LockLayout.SemaphoreType + ".";
    private const string WaitHandle = LockLayout.WaitHandleType + ".";
    private const string Event = "event";
    private const string TaskWait = "System.Threading.Tasks.";

    // The lock's own methods sit this near the top: under them only the runtime's wait (WaitHandle, the wait subsystem).
    private const int WaitDepth = 10;

    // The types a call the app makes may wait on, by kind: the receiver the call's IL loads.
    private static readonly string[] s_eventPrefixes = [.. LockLayout.EventTypes.Select(t => t + ".")];
    private static readonly string[] s_waitTypes = [LockLayout.SemaphoreType, LockLayout.ReaderWriterType, LockLayout.WaitHandleType, .. LockLayout.EventTypes];

    public static Dictionary<int, LockWait> Read(ClrRuntime runtime, List<(ClrThread Thread, List<ThreadFrame> Frames)> threads)
    {
        var waits = new Dictionary<int, LockWait>();
        LockCode? code = null;
        try
        {
            foreach (var (thread, frames) in threads)
            {
                if (Kind(frames) is not var (kind, caller))
                    continue;
                var wait = kind is Monitor or Lock || kind == ReaderWriter && Recorded(thread) is not null ? Recorded(runtime, thread, kind)
                    : Unrecorded(runtime, code ??= new LockCode(runtime), threads, thread, kind, caller);
                if (wait is not null)
                    waits[thread.ManagedThreadId] = wait;
            }
        }
        finally
        {
            code?.Dispose();
        }
        return waits;
    }

    // Which kind of lock the thread waits on: the outermost of the locks' methods above the app's first frame (a
    // semaphore's Wait waits in Monitor.Wait, a read lock in a WaitHandle), and the app's frame that called it. Nothing
    // of the app's above it (a thread running its own code is not waiting, whatever called it); a wait inside a task's
    // (Task.Wait: a blocked thread linked to its task) or inside another API (a BlockingCollection's semaphore) is not
    // the app's wait on that lock: only the locks whose holder the runtime records may have such frames between.
    internal static (string Kind, ThreadFrame? Caller)? Kind(List<ThreadFrame> frames)
    {
        string? kind = null;
        var unrecognised = false;
        foreach (var frame in frames.Where(f => !f.Native).Take(WaitDepth))
        {
            if (frame.App)
                return kind is null || kind == MonitorWait ? null : unrecognised && kind is not (Monitor or Lock or ReaderWriter) ? null : (kind, frame);
            if (frame.RuntimeName is not { } name || name.StartsWith(TaskWait, StringComparison.Ordinal))
                return null;
            var found = name.StartsWith(Monitor, StringComparison.Ordinal) ? name.AsSpan(Monitor.Length).Contains("Wait", StringComparison.Ordinal) ? MonitorWait : Monitor
                : name.StartsWith(Lock, StringComparison.Ordinal) ? Lock
                : name.StartsWith(ReaderWriter, StringComparison.Ordinal) ? name.Contains("Exit", StringComparison.Ordinal) ? null : ReaderWriter
                : name.StartsWith(Semaphore, StringComparison.Ordinal) ? Semaphore
                : s_eventPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) ? Event
                : name.StartsWith(WaitHandle, StringComparison.Ordinal) ? WaitHandle : null;
            // An API's own frames are above the runtime's wait it uses: the outermost wins (the waits of a monitor and of
            // a wait handle are what semaphores, read locks and events wait in).
            if (found is null)
                unrecognised = kind is not null;
            else if (found != WaitHandle || kind is null)
                (kind, unrecognised) = (found, false);
        }
        return kind is Monitor or Lock or ReaderWriter ? (kind, null) : null;
    }

    private static LockWait? Recorded(ClrRuntime runtime, ClrThread thread, string kind)
    {
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

    // A ReaderWriterLockSlim on the thread's stack whose write or upgradeable lock another thread holds, if any.
    private static int? Recorded(ClrThread thread)
    {
        foreach (var root in thread.EnumerateStackRoots())
        {
            if (root.Object is { IsNull: false } obj && obj.Type?.Name == LockLayout.ReaderWriterType && WriterOf(obj) is > 0 and var owner && owner != thread.ManagedThreadId)
                return owner;
        }
        return null;
    }

    private static LockWait? Unrecorded(ClrRuntime runtime, LockCode code, List<(ClrThread Thread, List<ThreadFrame> Frames)> threads, ClrThread thread, string kind, ThreadFrame? caller)
    {
        var (obj, name) = WaitedOn(code, thread, kind, caller);
        if (obj.IsNull || obj.Type?.Name is not { } type)
            return null;
        if (kind == Event || LockLayout.EventTypes.Contains(type))
            return new LockWait(ShortName(type), 0, name, LockHolding.Event);
        // Not held (any more): a read lock no reader holds, a semaphore with entries left, is a wait about to end.
        if (kind == ReaderWriter && (obj.ReadField<uint>(LockLayout.ReaderWriterOwners) & LockLayout.ReaderMask) == 0
            || type == LockLayout.SemaphoreType && obj.ReadField<int>(LockLayout.SemaphoreCount) != 0)
            return null;
        foreach (var (other, frames) in threads)
        {
            if (other.ManagedThreadId == thread.ManagedThreadId)
                continue;
            foreach (var frame in frames)
            {
                if (!frame.App || frame.Code is not { } method || frame.IlOffset < 0)
                    continue;
                foreach (var guard in code.Guards(method).Where(g => g.Covers(frame.IlOffset) && g.LockType == type))
                {
                    var itsOwn = guard.Local && Kind(frames) is var (k, c) && k is not (Monitor or Lock) ? WaitedOn(code, other, k, c).Object.Address : 0;
                    if (code.Held(guard, other, itsOwn).Any(o => o.Address == obj.Address))
                        return new LockWait(ShortName(type), other.ManagedThreadId, name ?? guard.Name, kind == ReaderWriter ? LockHolding.Readers : LockHolding.Code,
                            RemoteSymbols.LineAt(method, guard.ReleaseOffset), frame.Method);
                }
            }
        }
        return new LockWait(ShortName(type), 0, name, kind == ReaderWriter ? LockHolding.Readers : LockHolding.Code);
    }

    // The object a thread's wait on a lock with no recorded owner is on: what its call is made on (named as written), or
    // the first object of the kind on its stack.
    private static (ClrObject Object, string? Name) WaitedOn(LockCode code, ClrThread thread, string kind, ThreadFrame? caller)
    {
        var receiver = caller is { Code: { } called, IlOffset: >= 0 } ? code.Receiver(called, caller.IlOffset, s_waitTypes) : null;
        var obj = receiver is { } r ? code.Named(r.Static, r.Path, thread).FirstOrDefault(o => !o.IsNull) : default;
        if (obj.IsNull)
            obj = thread.EnumerateStackRoots().Select(root => root.Object).FirstOrDefault(o => !o.IsNull && Fits(kind, o.Type?.Name));
        return (obj, receiver?.Name);
    }

    private static bool Fits(string kind, string? type) => kind switch
    {
        Semaphore => type == LockLayout.SemaphoreType,
        ReaderWriter => type == LockLayout.ReaderWriterType,
        Event => LockLayout.EventTypes.Contains(type),
        _ => type is LockLayout.MutexType || LockLayout.EventTypes.Contains(type) || LockLayout.Releases.Any(r => r.Type == type && r.AcquireType == LockLayout.WaitHandleType),
    };

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
