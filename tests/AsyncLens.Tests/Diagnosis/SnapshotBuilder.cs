using AsyncLens.Diagnosis;
using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Tests.Diagnosis;

/// <summary>
/// Builds the doctor's input by hand, as the outside reader would fill it: task nodes with their texts, edges
/// (parent awaits child), threads with frames named as the runtime names them.
/// </summary>
/// <param name="first">The first node's number: a node's address and task id come from it, so two builders that number
/// their nodes alike describe the same objects (a second read that finds them still pending) and two that do not, other ones.</param>
internal sealed class SnapshotBuilder(int first = 1)
{
    public const string File = "/src/Shop/Orders.cs";

    private readonly List<TaskNode> _nodes = [];
    private readonly List<(int, int)> _edges = [];
    private readonly List<(int Id, bool Main, ThreadFrameText[] Frames, int? Blocked, int? Step, ThreadCpu? Cpu)> _threads = [];
    private readonly List<(string Name, int Holder, int? Acquired, int Released, int[] Waiters)> _semaphores = [];

    public static readonly ThreadFrameText PoolWorker = new("PortableThreadPool.WorkerThread.WorkerThreadStart()", null,
        ThreadPoolLayout.WorkerThreadType + "." + ThreadPoolLayout.WorkerThreadStart);

    public static readonly ThreadFrameText Dispatch = new("ThreadPoolWorkQueue.Dispatch()", null, ThreadPoolLayout.WorkQueueType + "." + ThreadPoolLayout.DispatchMethod);

    public static readonly ThreadFrameText[] ResultWait =
    [
        new("Monitor.Wait(object, int)", null, "System.Threading.Monitor.Wait"),
        new("ManualResetEventSlim.Wait(int, CancellationToken)", null, "System.Threading.ManualResetEventSlim.Wait"),
        new("Task<TResult>.GetResultCore(bool)", null, "System.Threading.Tasks.Task.GetResultCore"),
    ];

    public static readonly ThreadFrameText[] IdleWorker =
    [
        new("LowLevelLifoSemaphore.Wait(int, bool)", null, "System.Threading.LowLevelLifoSemaphore.Wait"),
        PoolWorker,
    ];

    public static SourceLine Line(int line) => new(File, line);

    public static ThreadFrameText User(string method, int line) => new(method, Line(line), "Shop." + method, App: true);

    public int Method(string title, int? line, string? note = null)
    {
        var index = _nodes.Count;
        _nodes.Add(new TaskNode(Address(index), first + index, NodeKind.AsyncMethod, index)
        {
            Description = new NodeText(title, line is { } l ? Line(l) : null, note),
            KindName = "async-method",
            StateName = note == "running" ? "running" : "parked",
        });
        return index;
    }

    // As the outside reader identifies an object: its address.
    private ulong Address(int index) => 0x7f00_0000_0000UL + (ulong)(first + index) * 0x40;

    public int Awaited(string label)
    {
        var index = _nodes.Count;
        _nodes.Add(new TaskNode(0UL, -(index + 1), NodeKind.Awaited, index) { Description = new NodeText(label, null, null), KindName = "awaited", StateName = "pending" });
        return index;
    }

    public int Delegate(string label, int line)
    {
        var index = _nodes.Count;
        _nodes.Add(new TaskNode(0UL, index + 1, NodeKind.DelegateTask, index) { Description = new NodeText(label, Line(line), "running"), KindName = "delegate-task", StateName = "running" });
        return index;
    }

    public SnapshotBuilder Awaits(int parent, int child)
    {
        _edges.Add((parent, child));
        return this;
    }

    /// <summary>A thread; blocked on <paramref name="waitsFor"/> (a node) as a .Result, under the running work <paramref name="step"/>.</summary>
    public SnapshotBuilder Thread(int id, ThreadFrameText[] frames, int? waitsFor = null, int? step = null, bool main = false, ThreadCpu? cpu = null)
    {
        int? blocked = null;
        if (waitsFor is { } waited)
        {
            blocked = _nodes.Count;
            _nodes.Add(new TaskNode(0UL, -(blocked.Value + 1), NodeKind.Thread, blocked.Value)
            {
                Description = new NodeText($"Thread {id}, blocked", null, null),
                KindName = "thread",
                StateName = "blocked",
            });
            _edges.Add((blocked.Value, waited));
            if (step is { } running)
                _edges.Add((running, blocked.Value));
        }
        _threads.Add((id, main, frames, blocked, step, cpu));
        return this;
    }

    /// <summary>A semaphore at count 0 held by the method node <paramref name="holder"/> (as the reader finds it), with its queued waits.</summary>
    public SnapshotBuilder Semaphore(string name, int holder, int? acquired, int released, params int[] waiters)
    {
        _semaphores.Add((name, holder, acquired, released, waiters));
        return this;
    }

    /// <summary>The read; with <paramref name="readAgain"/>, a second read of the process 1.2 s later found what that builder holds.</summary>
    public ProcessState Build(long? queued = 0, SnapshotBuilder? readAgain = null)
    {
        var graph = TaskGraph.FromParts(_nodes, _edges);
        var threads = _threads.Select(t => new ObservedThread(t.Id, (uint)(1000 + t.Id), t.Main, t.Frames,
            t.Step is { } s ? graph.Nodes[s] : null, t.Blocked is { } b ? graph.Nodes[b] : null, t.Cpu)).ToList();
        // A holder of -1: none found (its Released line is then not used).
        var semaphores = _semaphores.Select(s => new SemaphoreHold(s.Name, s.Holder < 0 ? null : graph.Nodes[s.Holder], s.Acquired is { } a ? Line(a) : null, Line(s.Released),
            [.. s.Waiters.Select(w => graph.Nodes[w])])).ToList();
        var takenAt = new DateTimeOffset(2026, 12, 5, 6, 0, 0, TimeSpan.Zero);
        return new ProcessState(4242, takenAt, graph, threads, queued, semaphores)
        {
            Later = readAgain is null ? null : new SecondRead(takenAt.AddSeconds(1.2), TaskGraph.FromParts(readAgain._nodes, readAgain._edges)),
        };
    }
}
