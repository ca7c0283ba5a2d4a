using AsyncLens.Diagnosis;
using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Who holds each <see cref="SemaphoreSlim"/> that async code waits for. The runtime records no owner (a semaphore is
/// a count), so the holder is read from the holders' code: a pending async method parked inside a try block whose
/// finally releases a semaphore (<see cref="SemaphoreGuards"/>, from its MoveNext's IL), that semaphore read from its
/// state machine (or the static field) being the one waited for, at count 0. A holder that releases it some other way
/// (not in a finally, or in another method) is not seen. Read only when some async code waits for a semaphore.
/// </summary>
internal sealed class SemaphoreHolds : IDisposable
{
    private readonly LockCode _code;
    private readonly Dictionary<ulong, (IReadOnlyList<SemaphoreGuard> Guards, AwaitOffsets[] Awaits, ClrMethod? MoveNext)> _byType = [];

    private readonly Dictionary<ulong, TaskNode> _withToken;

    private SemaphoreHolds(ClrRuntime runtime, Dictionary<ulong, TaskNode> withToken) => (_code, _withToken) = (new LockCode(runtime), withToken);

    public static IReadOnlyList<SemaphoreHold> Read(ClrRuntime runtime, TaskGraph graph, HeapTasks tasks)
    {
        var withToken = WaitsWithToken(graph, tasks);
        if (withToken.Count == 0 && !graph.Nodes.Any(n => n.Kind == NodeKind.Awaited && NodeTexts.Of(n).Title == NodeTexts.SemaphoreWait))
            return [];
        using var reader = new SemaphoreHolds(runtime, withToken);
        var holds = new List<SemaphoreHold>();
        foreach (var node in graph.Nodes)
        {
            if (node.Kind == NodeKind.AsyncMethod && AsyncState.IsParked(node.State) && tasks.FieldsOf(node) is { } fields && reader.Hold(node, fields, tasks) is { } hold)
                holds.Add(hold);
        }
        return holds;
    }

    private SemaphoreHold? Hold(TaskNode node, StateMachineFields fields, HeapTasks tasks)
    {
        var (guards, awaits, moveNext) = Guards(fields.Type);
        if (guards.Count == 0 || node.State >= awaits.Length || moveNext is null)
            return null;
        var parkedAt = awaits[node.State].YieldOffset;
        // The innermost try around the await: the semaphore taken last.
        foreach (var guard in guards.Where(g => g.Covers(parkedAt)).OrderBy(g => g.TryEnd - g.TryStart))
        {
            var semaphore = Semaphore(guard, fields, (ulong)node.Target);
            if (semaphore.IsNull || semaphore.Type?.Name != LockLayout.SemaphoreType || semaphore.ReadField<int>(LockLayout.SemaphoreCount) != 0)
                continue;
            var waiters = Waiters(semaphore).Select(w => tasks.NodeAt(w) ?? _withToken.GetValueOrDefault(w)).OfType<TaskNode>().ToList();
            if (waiters.Count > 0)
                return new SemaphoreHold(guard.Name, node, guard.AcquireOffset is { } a ? RemoteSymbols.LineAt(moveNext, a) : null, RemoteSymbols.LineAt(moveNext, guard.ReleaseOffset), waiters);
        }
        return null;
    }

    // The semaphore the guard releases, for this box: the static field, or the fields from its state machine down.
    private ClrObject Semaphore(SemaphoreGuard guard, StateMachineFields fields, ulong box)
    {
        if (guard.Static)
            return _code.Static(guard.Path[0]);
        return LockCode.Follow(fields.Field(box, guard.Path[0].Name), guard.Path.Skip(1));
    }

    // The semaphore's own async method for each wait made with a token or a timeout, by the address of the wait it
    // queued: what the waiter's chain awaits (its leaf is the token's promise, the queued wait is not in the graph).
    private static Dictionary<ulong, TaskNode> WaitsWithToken(TaskGraph graph, HeapTasks tasks)
    {
        var byWait = new Dictionary<ulong, TaskNode>();
        foreach (var node in graph.Nodes)
        {
            if (node.Kind == NodeKind.AsyncMethod && tasks.FieldsOf(node) is { } fields && fields.Type.Name is { } name
                && name.StartsWith(LockLayout.SemaphoreType + "+<" + LockLayout.SemaphoreWaitUntil + ">", StringComparison.Ordinal)
                && fields.Field((ulong)node.Target, LockLayout.WaitUntilWaiter) is { IsNull: false } wait)
                byWait.TryAdd(wait.Address, node);
        }
        return byWait;
    }

    // The async waits queued for the semaphore, first to last.
    private static IEnumerable<ulong> Waiters(ClrObject semaphore)
    {
        var seen = new HashSet<ulong>();
        var waiter = semaphore.ReadObjectField(LockLayout.SemaphoreWaiters);
        while (!waiter.IsNull && seen.Add(waiter.Address) && seen.Count <= 100_000)
        {
            yield return waiter.Address;
            waiter = waiter.Type?.GetFieldByName(LockLayout.WaiterNext) is not null ? waiter.ReadObjectField(LockLayout.WaiterNext) : default;
        }
    }

    private (IReadOnlyList<SemaphoreGuard>, AwaitOffsets[], ClrMethod?) Guards(ClrType stateMachine)
    {
        if (_byType.TryGetValue(stateMachine.MethodTable, out var known))
            return known;
        var moveNext = stateMachine.Methods.FirstOrDefault(m => m.Name == "MoveNext");
        var path = stateMachine.Module?.Name;
        var found = moveNext is not null && path is { Length: > 0 } && _code.Body(path, moveNext.MetadataToken) is { } body
            ? (SemaphoreGuards.Find(body), AssemblySymbols.ForFile(path)?.AsyncStepping(moveNext.MetadataToken) ?? [], moveNext)
            : ([], [], moveNext);
        _byType[stateMachine.MethodTable] = found;
        return found;
    }

    public void Dispose() => _code.Dispose();
}
