using AsyncLens.Runtime.Layout;

namespace AsyncLens.Runtime;

/// <summary>
/// An awaiter chain read from live objects at one moment, leaf first: each async method box with
/// the state it was in. Resolved to names and lines later, off the app's thread.
/// </summary>
internal sealed class RawAsyncStack
{
    private const int MaxDepth = 256;

    private RawAsyncStack(RawFrame[] frames, bool endsInSynchronousWait)
    {
        Frames = frames;
        EndsInSynchronousWait = endsInSynchronousWait;
    }

    public static readonly RawAsyncStack Empty = new([], false);

    /// <summary>A stack remembered rather than read (a step whose chain completed or moved on), leaf first.</summary>
    public static RawAsyncStack Of(IEnumerable<RawFrame> frames) => new([.. frames], false);

    /// <summary>Leaf first. Combinators (Task.WhenAll, ...) appear with a null <see cref="RawFrame.Box"/>.</summary>
    public RawFrame[] Frames { get; }

    /// <summary>True when a thread is blocked (Wait, Result) on the root of the chain.</summary>
    public bool EndsInSynchronousWait { get; }

    /// <summary>Walks from <paramref name="leaf"/> to the root. <paramref name="leafState"/> overrides the leaf's state (a running step reads -1).</summary>
    public static RawAsyncStack Capture(Task leaf, int? leafState = null)
    {
        // Debug mode captures a stack on the app's threads at every async method's end (the console's history): the
        // working lists are the thread's own, reused, and only the frames themselves are allocated.
        // Taken from the thread while in use: a capture that runs inside another (an event raised under it) gets its own.
        var scratch = t_scratch ?? new Scratch();
        t_scratch = null;
        var (frames, awaiters) = (scratch.Frames, scratch.Awaiters);
        frames.Clear();
        scratch.ClearSeen();
        List<RuntimeAsyncFrame>? chain = null;
        var syncWait = false;
        object? current = leaf;
        while (current is not null && frames.Count < MaxDepth && scratch.FirstVisit(current))
        {
            // A .NET 11 runtime-async chain's task: its suspended methods, innermost first (leaf first, as here).
            if (RuntimeAsyncChains.IsChainTask(current) && RuntimeAsyncChains.Read((Task)current, chain ??= [], out _))
            {
                for (var i = chain.Count - 1; i >= 0; i--)
                    frames.Add(new RawFrame(i == 0 ? ((Task)current).Id : 0, null, AsyncState.Unknown, null, null, chain[i]));
            }
            else
            {
                AddFrame(frames, current, frames.Count == 0 ? leafState : null);
            }
            awaiters.Clear();
            Awaiters.Of(current, awaiters);
            current = null;
            foreach (var a in awaiters)
            {
                if (a.Node is not null)
                {
                    current = a.Node;
                    break;
                }
                syncWait |= a.Kind == AwaiterKind.SynchronousWait;
            }
        }
        var stack = new RawAsyncStack([.. frames], syncWait);
        frames.Clear();
        scratch.ClearSeen(); // no object kept alive by the thread after the capture
        awaiters.Clear();
        t_scratch = scratch;
        return stack;
    }

    [ThreadStatic]
    private static Scratch? t_scratch;

    private sealed class Scratch
    {
        private const int LinearVisits = 16;

        public readonly List<RawFrame> Frames = new(8);
        public readonly List<Awaiter> Awaiters = new(2);
        private readonly List<object> _visited = new(LinearVisits + 1);
        private readonly HashSet<object> _seen = new(ReferenceEqualityComparer.Instance);

        /// <summary>False for an object met before (a cycle): a short chain is checked by a scan, a long one by a set.</summary>
        public bool FirstVisit(object item)
        {
            if (_seen.Count > 0)
                return _seen.Add(item);
            foreach (var visited in _visited)
            {
                if (ReferenceEquals(visited, item))
                    return false;
            }
            _visited.Add(item);
            if (_visited.Count > LinearVisits)
                _seen.UnionWith(_visited);
            return true;
        }

        public void ClearSeen()
        {
            _visited.Clear();
            _seen.Clear();
        }
    }

    private static void AddFrame(List<RawFrame> frames, object current, int? leafState)
    {
        var box = BoxInfo.Of(current);
        var state = box is null ? AsyncState.Unknown : leafState is { } s ? s : box.ReadState(current);
        var task = current as Task;
        frames.Add(new RawFrame(task?.Id ?? 0, box, state, box is null ? current.GetType() : null, box is null && task is not null ? TaskInternals.Action(task)?.Method : null));
    }
}

/// <summary>
/// One link of an awaiter chain: an async method box and its state (task id 0 for a pooled ValueTask box), another
/// task (a combinator, or a delegate task and its method), or a suspended method of a .NET 11 runtime-async chain
/// (<see cref="Chain"/>; its task's id on the chain's outermost method).
/// </summary>
internal readonly record struct RawFrame(int TaskId, BoxInfo? Box, int State, Type? TaskType, System.Reflection.MethodInfo? DelegateMethod, RuntimeAsyncFrame? Chain = null);
