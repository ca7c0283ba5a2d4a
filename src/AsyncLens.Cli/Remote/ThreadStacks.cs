using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>One frame of a thread's stack: the method as a person reads it, its line where the PDB says, and its module's file name.</summary>
internal sealed record ThreadFrame(string Method, SourceLine? At, string? Module = null)
{
    public override string ToString() => At is null ? Method : $"{Method} at {At.File}:{At.Line}";
}

/// <summary>
/// A managed thread's stack, top first (like <c>py-spy dump</c>), and the async method whose step it is
/// running, if any: its box is on the thread's stack (a GC root of the MoveNext frame) in state -1.
/// </summary>
internal sealed record ThreadStack(int ManagedId, uint OsId, bool IsFinalizer, IReadOnlyList<ThreadFrame> Frames, TaskNode? AsyncStep);

internal static class ThreadStacks
{
    private const int MaxFrames = 300;

    public static List<ThreadStack> Read(ClrRuntime runtime, RemoteSymbols symbols, HeapTasks tasks)
    {
        var threads = new List<ThreadStack>();
        foreach (var thread in runtime.Threads)
        {
            if (!thread.IsAlive)
                continue;
            var frames = Frames(thread, symbols, out var moveNexts);
            threads.Add(new ThreadStack(thread.ManagedThreadId, thread.OSThreadId, thread.IsFinalizer, frames, moveNexts.Count > 0 ? RunningStep(thread, tasks, moveNexts) : null));
        }
        threads.Sort((a, b) => a.ManagedId.CompareTo(b.ManagedId));
        return threads;
    }

    /// <summary>The thread's managed frames, top first, and the state machine types whose <c>MoveNext</c> is among them.</summary>
    public static List<ThreadFrame> Frames(ClrThread thread, RemoteSymbols symbols, out List<(int Token, ulong Module)> moveNexts)
    {
        var frames = new List<ThreadFrame>();
        moveNexts = [];
        foreach (var frame in thread.EnumerateStackTrace())
        {
            if (frame.Kind != ClrStackFrameKind.ManagedMethod || frame.Method is not { } method)
                continue;
            if (frames.Count == MaxFrames)
            {
                frames.Add(new ThreadFrame("... (more frames)", null));
                break;
            }
            // A caller's instruction pointer is its return address: the call is the instruction before it.
            var ip = frames.Count == 0 ? frame.InstructionPointer : frame.InstructionPointer - 1;
            frames.Add(new ThreadFrame(symbols.MethodName(method), RemoteSymbols.LineAt(method, method.GetILOffset(ip)), Path.GetFileName(method.Type?.Module?.Name)));
            if (method.Name == "MoveNext" && method.Type is { } type)
                moveNexts.Add((type.MetadataToken, type.Module?.Address ?? 0));
        }
        return frames;
    }

    /// <summary>
    /// The innermost pending work the thread is running: an async method's step (<see cref="RunningStep"/>), or else
    /// a delegate task it runs (Task.Run), held on its stack.
    /// </summary>
    public static TaskNode? RunningWork(ClrThread thread, HeapTasks tasks, List<(int Token, ulong Module)> moveNexts)
    {
        if (moveNexts.Count > 0 && RunningStep(thread, tasks, moveNexts) is { } step)
            return step;
        foreach (var root in thread.EnumerateStackRoots())
        {
            if (root.Object is { IsNull: false } obj && tasks.NodeAt(obj.Address) is { Kind: NodeKind.DelegateTask, StateName: "running" } task)
                return task;
        }
        return null;
    }

    // The innermost async method running on the thread: of the running boxes its stack holds, the one whose
    // MoveNext is nearest the top (an async method calling another runs both steps on one stack).
    private static TaskNode? RunningStep(ClrThread thread, HeapTasks tasks, List<(int Token, ulong Module)> moveNexts)
    {
        var running = new List<TaskNode>();
        foreach (var root in thread.EnumerateStackRoots())
        {
            if (root.Object is { IsNull: false } obj && tasks.NodeAt(obj.Address) is { Kind: NodeKind.AsyncMethod, State: AsyncState.Running } node && !running.Contains(node))
                running.Add(node);
        }
        foreach (var moveNext in moveNexts)
        {
            if (running.Find(n => tasks.FieldsOf(n)?.Definition == moveNext) is { } match)
                return match;
        }
        return running.Count == 1 ? running[0] : null;
    }
}
