using System.Globalization;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Agent;

/// <summary>
/// The console's <c>cancel ID</c>, cooperative: the <see cref="CancellationTokenSource"/> whose token the task's chain
/// holds is cancelled, and the code that took the token decides what that means. Looked for in the task's own state
/// machine first, then down what it awaits, then up through what awaits it (nearest first; there, tokens it was given
/// only): the closest holder is the narrowest cancellation. None found, a task serving an ASP.NET Core request in flight
/// aborts that request (<c>HttpContext.Abort()</c>: its connection closes, its <c>RequestAborted</c> token is cancelled;
/// code that does not watch the token runs on). Nothing found at all (or only sources already cancelled): nothing changes, exit 1.
/// </summary>
internal static class CancelCommand
{
    public static ConsoleReply Run(TaskInventory inventory, ConsoleArgs args, TerminatedHistory history, InFlightRequests? requests = null)
    {
        var id = args.TaskId();
        var graph = inventory.Snapshot();
        if (TaskCommands.Find(graph, id) is not { } node)
            return ConsoleReply.Failed($"cancel: no pending task {TaskTable.Id(id)} (it may have ended; ps lists the pending ones)");
        var texts = new NodeTextCache();
        var above = Above(node);
        var services = ServiceStops(Chain(node));
        string? serviceOnly = null;
        foreach (var holder in Chain(node))
        {
            if (holder.Kind != NodeKind.AsyncMethod || holder.Box is not { } box || box.StateMachine(holder.Target) is not { } stateMachine)
                continue;
            foreach (var (name, source, isToken) in HeldTokens.Of(stateMachine))
            {
                // Above the task, only a token the method was given counts (its caller's scope, a request's abort):
                // a source a caller made is its own, and may be what another of its tasks was given.
                if ((above.Contains(holder) && !isToken) || source.IsCancellationRequested)
                    continue;
                // A BackgroundService's stopping token stops the whole service, and with the Generic Host's default
                // (BackgroundServiceExceptionBehavior.StopHost) the whole app: not a task's cancellation.
                if (services.TryGetValue(source, out var service))
                {
                    serviceOnly ??= $"'{name}' is the stopping token of the BackgroundService {service}: cancelling it would stop that service, and with the host's default (BackgroundServiceExceptionBehavior.StopHost) the whole app";
                    continue;
                }
                // Marked first: the cancellation runs on the pool, and what it ends may end before this returns.
                history.CancelledByConsole(Chain(node).Select(n => n.Id));
                if (!TryCancel(source))
                    continue;
                var text = texts.Of(holder);
                var who = holder == node ? "it holds" : $"{text.Title} (task {TaskTable.Id(holder.Id)}) holds";
                var at = text.At is { } line ? $" (parked at {line.File}:{line.Line.ToString(CultureInfo.InvariantCulture)})" : "";
                return new ConsoleReply($"cancel {TaskTable.Id(id)}: cancelled the CancellationTokenSource of '{name}', which {who}{at}\n", w =>
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", id);
                    w.WriteBoolean("cancelled", true);
                    w.WriteNumber("holderId", holder.Id);
                    w.WriteString("holder", text.Title);
                    w.WriteString("field", name);
                    w.WriteEndObject();
                });
            }
        }
        if (requests is not null && RequestCommands.Served(graph, requests).Tasks.TryGetValue(id, out var request) && Abort(request.Context))
        {
            history.CancelledByConsole(Chain(node).Select(n => n.Id));
            var label = RequestCommands.Label(request);
            return new ConsoleReply($"cancel {TaskTable.Id(id)}: no CancellationTokenSource in its chain; aborted the ASP.NET Core request it serves ({label}): its connection is closed and its RequestAborted token cancelled (code that does not watch that token runs on to its end)\n", w =>
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteBoolean("cancelled", true);
                w.WriteString("abortedRequest", label);
                w.WriteEndObject();
            });
        }
        if (serviceOnly is not null)
            return ConsoleReply.Failed($"cancel: task {TaskTable.Id(id)} ({texts.Of(node).Title}): the only token its chain holds is a service's: {serviceOnly}; nothing was changed (to stop the app: kill -TERM {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)})");
        return ConsoleReply.Failed($"cancel: task {TaskTable.Id(id)} ({texts.Of(node).Title}) and the tasks it awaits or is awaited by hold no CancellationTokenSource that can be cancelled, and it serves no ASP.NET Core request in flight: nothing was changed");
    }

    // The stopping sources of the BackgroundServices whose ExecuteAsync (or a method of theirs) is in the chain (its
    // state machine's `this`), by source: Microsoft.Extensions.Hosting.BackgroundService keeps it in _stoppingCts.
    private static Dictionary<CancellationTokenSource, string> ServiceStops(IEnumerable<TaskNode> chain)
    {
        var stops = new Dictionary<CancellationTokenSource, string>(ReferenceEqualityComparer.Instance);
        foreach (var node in chain)
        {
            if (node.Kind != NodeKind.AsyncMethod || node.Box?.StateMachine(node.Target) is not { } stateMachine
                || stateMachine.GetType().GetField(StateMachineLayout.ThisField, FieldAccessor.Instance)?.GetValue(stateMachine) is not { } owner)
                continue;
            for (var type = owner.GetType(); type is not null; type = type.BaseType)
            {
                if (type.FullName == HostingLayout.BackgroundService && type.GetField(HostingLayout.StoppingSource, FieldAccessor.Instance)?.GetValue(owner) is CancellationTokenSource stop)
                    stops.TryAdd(stop, owner.GetType().Name);
            }
        }
        return stops;
    }


    // HttpContext.Abort(), found by name (the engine references no ASP.NET Core): Kestrel closes the connection and
    // cancels RequestAborted on the thread pool, not on this thread.
    private static bool Abort(object context)
    {
        try
        {
            if (context.GetType().GetMethod("Abort", Type.EmptyTypes) is not { } abort)
                return false;
            abort.Invoke(context, null);
            return true;
        }
        catch (Exception ex) when (ex is System.Reflection.TargetInvocationException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    private static HashSet<TaskNode> Above(TaskNode node)
    {
        var above = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance);
        var queue = new Queue<TaskNode>(node.AwaitedBy);
        while (queue.TryDequeue(out var next))
        {
            if (next != node && above.Add(next))
            {
                foreach (var further in next.AwaitedBy)
                    queue.Enqueue(further);
            }
        }
        return above;
    }

    /// <summary>The task, then what it awaits (breadth first), then what awaits it (nearest first); each node once.</summary>
    private static IEnumerable<TaskNode> Chain(TaskNode node)
    {
        var seen = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance) { node };
        yield return node;
        foreach (var direction in new Func<TaskNode, ArraySegment<TaskNode>>[] { n => n.Awaits, n => n.AwaitedBy })
        {
            var queue = new Queue<TaskNode>(direction(node));
            while (queue.TryDequeue(out var next))
            {
                if (!seen.Add(next))
                    continue;
                yield return next;
                foreach (var further in direction(next))
                    queue.Enqueue(further);
            }
        }
    }

    // Cancelled on the thread pool: the callbacks registered on the token are the app's code, and run where the app's do.
    private static bool TryCancel(CancellationTokenSource source)
    {
        try
        {
            _ = source.CancelAsync();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }
}
