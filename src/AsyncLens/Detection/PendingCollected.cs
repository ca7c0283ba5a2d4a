using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// pending-collected: an async method box was garbage-collected before it completed (asyncio's
/// "Task was destroyed but it is pending!"). Tasks leave the runtime's strong registry for weak
/// handles at each sweep (<see cref="Inventory.TaskTracking"/>); after a GC, a dead handle of a box
/// that never completed is this bug.
/// Boxes that died together awaiting each other are one report, leaf first.
/// <para>
/// The registry holds a task strongly until the next sweep (at most a second): a box abandoned and collected within
/// that second would survive that collection and, in a program that collects no more (a test, a short program that
/// calls <c>GC.Collect()</c> to find exactly this), never be reported. So a collection the app asks for is repeated
/// once, right after the registry has let go of its tasks (<see cref="Settle"/>): it finds what the app's would have.
/// </para>
/// </summary>
internal sealed class PendingCollected(IFindingSink sink, TaskRegistry registry, TaskTable table, TimeProvider time, Action sweep)
{
    private readonly Lock _gate = new();
    private long _induced = -1;
    private int _inducedGeneration;
    private long _handled = -1;

    /// <summary>The app asked for collection <paramref name="index"/> of <paramref name="generation"/> (from the runtime's event thread).</summary>
    public void OnInduced(long index, int generation)
    {
        lock (_gate)
        {
            if (index <= _induced)
                return;
            _induced = index;
            _inducedGeneration = Math.Max(_inducedGeneration, generation);
        }
    }

    /// <summary>
    /// Watchdog tick and process exit: a collection the app asked for, while the registry still held tasks strongly, is
    /// repeated once they are weak; then dead handles are looked for.
    /// </summary>
    public void Settle()
    {
        lock (_gate)
        {
            if (_induced <= _handled)
                return;
            _handled = _induced;
            if (registry.HoldsStrongly)
            {
                sweep();
                GC.Collect(_inducedGeneration, GCCollectionMode.Forced, blocking: true);
                // That collection's own event must not bring this back.
                _handled = Math.Max(_handled, GC.GetGCMemoryInfo(GCKind.Any).Index);
            }
            _inducedGeneration = 0;
        }
        Scan();
    }

    public void Scan()
    {
        List<CollectedTask> dead;
        lock (_gate)
            dead = registry.TakeCollected();
        if (dead.Count == 0)
            return;
        var boxes = new Dictionary<int, (CollectedTask Entry, TaskRecord? Record)>();
        foreach (var entry in dead)
        {
            var record = table.Remove(entry.Id);
            // Parked at an await (state N >= 0); an async iterator abandoned at a yield return is not this bug.
            if (entry.Box is not null && AsyncState.IsParked(entry.LastState))
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
            // A package's own loop let go with its object (Orleans drops a deactivated grain's message loop parked on its
            // work signal, at every deactivation): nothing of the app's is lost, and nothing the app can change.
            if (chain.TrueForAll(c => CodeOrigin.Kind(c.Item2.StateMachineType.Assembly) == CodeKind.Package))
                continue;
            sink.Add(new CollectedFinding(id, time.GetUtcNow(), chain, record));
        }
    }
}
