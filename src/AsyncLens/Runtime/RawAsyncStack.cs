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
        var frames = new List<RawFrame>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var awaiters = new List<Awaiter>(2);
        List<RuntimeAsyncFrame>? chain = null;
        var syncWait = false;
        object? current = leaf;
        while (current is not null && frames.Count < MaxDepth && seen.Add(current))
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
        return new RawAsyncStack([.. frames], syncWait);
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
