using AsyncLens.Runtime.Layout;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// How many work items wait in the thread pool's queues of a process read from outside: its global queues
/// (<c>ConcurrentQueue&lt;object&gt;</c>s, counted by the filled slots of their segments) and each worker's local
/// queue. The names read are <see cref="ThreadPoolLayout"/>'s. Null when the queues cannot be found (another runtime).
/// </summary>
internal static class PoolQueue
{
    private const int MaxSegments = 100_000;

    public static long? Count(ClrRuntime runtime)
    {
        var heap = runtime.Heap;
        var domain = runtime.AppDomains.FirstOrDefault() ?? runtime.SystemDomain;
        if (domain is null || heap.GetTypeByName(ThreadPoolLayout.ThreadPoolType)?.GetStaticFieldByName(ThreadPoolLayout.WorkQueue) is not { } field)
            return null;
        var queue = field.ReadObject(domain);
        if (queue.IsNull || queue.Type is null)
            return null;
        long count = 0;
        foreach (var name in ThreadPoolLayout.GlobalQueues)
        {
            if (queue.Type.GetFieldByName(name) is not null)
                count += Global(queue.ReadObjectField(name));
        }
        if (queue.Type.GetFieldByName(ThreadPoolLayout.AssignableQueues) is not null
            && queue.ReadObjectField(ThreadPoolLayout.AssignableQueues) is { IsNull: false, IsArray: true } assignable)
        {
            foreach (var q in References(assignable.AsArray()))
                count += Global(heap.GetObject(q));
        }
        if (heap.GetTypeByName(ThreadPoolLayout.LocalQueueListType)?.GetStaticFieldByName(ThreadPoolLayout.LocalQueues) is { } locals
            && locals.ReadObject(domain) is { IsNull: false, IsArray: true } list)
        {
            foreach (var local in References(list.AsArray()))
            {
                if (heap.GetObject(local).ReadObjectField(ThreadPoolLayout.LocalItems) is { IsNull: false, IsArray: true } items)
                    count += References(items.AsArray()).Count();
            }
        }
        return count;
    }

    // A ConcurrentQueue's items: the slots of its segments whose item is set (a dequeued slot is cleared).
    private static long Global(ClrObject queue)
    {
        if (queue.IsNull || queue.Type?.GetFieldByName(ThreadPoolLayout.QueueHead) is null)
            return 0;
        long count = 0;
        var segment = queue.ReadObjectField(ThreadPoolLayout.QueueHead);
        for (var i = 0; i < MaxSegments && !segment.IsNull && segment.Type is not null; i++)
        {
            if (segment.ReadObjectField(ThreadPoolLayout.Slots) is { IsNull: false, IsArray: true, Type: { ComponentType: { } slotType } arrayType } slots)
            {
                var array = slots.AsArray();
                var size = (ulong)arrayType.ComponentSize;
                var first = slots.Address + (ulong)(2 * IntPtr.Size);
                for (var s = 0; s < array.Length; s++)
                {
                    if (!ClrValueType.FromAddress(first + (ulong)s * size, slotType).ReadObjectField(ThreadPoolLayout.SlotItem).IsNull)
                        count++;
                }
            }
            segment = segment.ReadObjectField(ThreadPoolLayout.NextSegment);
        }
        return count;
    }

    private static IEnumerable<ulong> References(ClrArray array) =>
        array.Length == 0 ? [] : array.ReadValues<nuint>(0, array.Length)?.Where(a => a != 0).Select(a => (ulong)a) ?? [];
}
