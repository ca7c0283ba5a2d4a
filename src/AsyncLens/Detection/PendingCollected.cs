using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// pending-collected: an async method box was garbage-collected before it completed (asyncio's
/// "Task was destroyed but it is pending!"). Tasks leave the runtime's strong registry for weak
/// handles at each sweep (<see cref="Inventory.TaskTracking"/>); after a GC, a dead handle of a box
/// that never completed is this bug.
/// Boxes that died together awaiting each other are one report, leaf first.
/// </summary>
internal sealed class PendingCollected(IFindingSink sink, TaskRegistry registry, TaskTable table, TimeProvider time)
{
    public void Scan()
    {
        var dead = registry.TakeCollected();
        if (dead.Count == 0)
            return;
        var boxes = new Dictionary<int, (CollectedTask Entry, TaskRecord? Record)>();
        foreach (var entry in dead)
        {
            var record = table.Remove(entry.Id);
            // Parked at an await (state N >= 0); an async iterator abandoned at a yield return is not this bug.
            if (entry.Box is not null && entry.LastState >= 0)
                boxes[entry.Id] = (entry, record);
        }
        var awaiting = new HashSet<int>();
        foreach (var (_, record) in boxes.Values)
        {
            if (record is { AwaiterId: not 0 } r && boxes.ContainsKey(r.AwaiterId))
                awaiting.Add(r.AwaiterId);
        }
        foreach (var (id, (entry, record)) in boxes)
        {
            if (awaiting.Contains(id))
                continue; // it awaited another collected box: that leaf's report carries it
            var chain = new List<(int, BoxInfo, int)> { (id, entry.Box!, entry.LastState) };
            var next = record?.AwaiterId ?? 0;
            while (next != 0 && chain.Count < 64 && boxes.TryGetValue(next, out var parent))
            {
                chain.Add((next, parent.Entry.Box!, parent.Entry.LastState));
                next = parent.Record?.AwaiterId ?? 0;
            }
            sink.Add(new CollectedFinding(id, time.GetUtcNow(), chain, record));
        }
    }
}
