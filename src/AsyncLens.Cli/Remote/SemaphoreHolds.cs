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
        holds.AddRange(reader.Unheld(graph, tasks, holds));
        return holds;
    }

    // The semaphores async code waits for that no pending method holds inside its guard: found from a waiting method
    // (a field of its state machine, of its `this`, or a static of its type holds the semaphore whose queue has the
    // wait), named by that field, the holder not named (code that took it and returned without releasing it, a
    // release elsewhere, or a thread).
    private IEnumerable<SemaphoreHold> Unheld(TaskGraph graph, HeapTasks tasks, List<SemaphoreHold> held)
    {
        var covered = held.SelectMany(h => h.Waiters).ToHashSet();
        var waits = graph.Nodes.Where(n => n.Kind == NodeKind.Awaited && NodeTexts.Of(n).Title == NodeTexts.SemaphoreWait).Select(n => ((ulong)n.Target, n))
            .Concat(_withToken.Select(w => (w.Key, w.Value)));
        var found = new HashSet<ulong>();
        foreach (var (address, wait) in waits)
        {
            if (covered.Contains(wait) || wait.AwaitedBy.FirstOrDefault(a => a.Kind == NodeKind.AsyncMethod) is not { } waiting || tasks.FieldsOf(waiting) is not { } fields)
                continue;
            foreach (var (name, semaphore) in Candidates(fields, (ulong)waiting.Target))
            {
                if (semaphore.IsNull || semaphore.Type?.Name != LockLayout.SemaphoreType || semaphore.ReadField<int>(LockLayout.SemaphoreCount) != 0
                    || !found.Add(semaphore.Address))
                    continue;
                var queued = Waiters(semaphore).ToList();
                if (!queued.Contains(address))
                {
                    found.Remove(semaphore.Address);
                    continue;
                }
                var nodes = queued.Select(w => tasks.NodeAt(w) ?? _withToken.GetValueOrDefault(w)).OfType<TaskNode>().ToList();
                covered.UnionWith(nodes);
                yield return new SemaphoreHold(name, null, null, null, nodes);
                break;
            }
        }
    }

    // The semaphores a waiting method may name: its state machine's object fields, its `this`'s, its type's statics.
    private IEnumerable<(string Name, ClrObject Semaphore)> Candidates(StateMachineFields fields, ulong box)
    {
        var type = fields.Type;
        foreach (var field in type.Fields.Where(f => f.IsObjectReference && f.Name is not null))
        {
            var value = fields.Field(box, field.Name!);
            if (field.Name == StateMachineLayout.ThisField && !value.IsNull && value.Type is { } owner)
            {
                foreach (var own in owner.Fields.Where(f => f.IsObjectReference && f.Name is not null))
                    yield return ($"{Short(owner.Name)}.{own.Name}", value.ReadObjectField(own.Name!));
            }
            else
            {
                yield return (SemaphoreGuards.NameOf(false, [new IlMember(type.Name ?? "", field.Name!)]), value);
            }
        }
        var declaring = type.Name is { } n && n.LastIndexOf('+') is var plus and > 0 ? n[..plus] : null;
        if (declaring is not null && type.Module is { } module && module.GetTypeByName(declaring) is { } outer)
        {
            foreach (var field in outer.StaticFields.Where(f => f.IsObjectReference && f.Name is not null))
                yield return ($"{Short(outer.Name)}.{field.Name}", _code.Static(new IlMember(declaring, field.Name!)));
        }
    }

    private static string Short(string? type) => type is null ? "?" : type[(type.LastIndexOfAny(['.', '+']) + 1)..];

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
                return new SemaphoreHold(guard.Name!, node, guard.AcquireOffset is { } a ? RemoteSymbols.LineAt(moveNext, a) : null, RemoteSymbols.LineAt(moveNext, guard.ReleaseOffset), waiters);
        }
        return null;
    }

    // The semaphore the guard releases, for this box: the static field, or the fields from its state machine down.
    private ClrObject Semaphore(SemaphoreGuard guard, StateMachineFields fields, ulong box)
    {
        if (guard.Local)
            return default; // a local of a MoveNext that no await crosses: dead while it is parked
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
