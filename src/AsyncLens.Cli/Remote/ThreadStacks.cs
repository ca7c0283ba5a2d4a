using AsyncLens.Diagnosis;
using AsyncLens.Inventory;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// One frame of a thread's stack: the method as a person reads it, its line where the PDB says, its module's file
/// name, and (for the function a thread is in when it runs native code) the native library.
/// </summary>
/// <paramref name="RuntimeName"/>: the runtime's name of the method (<c>System.Threading.Monitor.Wait</c>), by which the
/// doctor recognises the runtime's own waits; <paramref name="App"/>: the app's own code (its projects' modules, not .NET's
/// nor a package's: <c>CodeOrigin.KindOfFile</c>), which a frame without a line (a Release build's loop compiled again) still is.
/// <paramref name="Code"/> and <paramref name="IlOffset"/>: the method and where in its IL the frame is (-1: not known), for the locks its code holds.
internal sealed record ThreadFrame(string Method, SourceLine? At, string? Module = null, bool Native = false, string? RuntimeName = null, bool App = false,
    ClrMethod? Code = null, int IlOffset = -1)
{
    public override string ToString() => At is null ? Method : $"{Method} at {At.File}:{At.Line}";
}

/// <summary>
/// A managed thread's stack, top first (like <c>py-spy dump</c>), and the async method whose step it is
/// running, if any: its box is on the thread's stack (a GC root of the MoveNext frame) in state -1.
/// <paramref name="InNativeCode"/>: stopped in native code the runtime cannot unwind (<see cref="NativeFrames"/>).
/// <paramref name="Lock"/>: the lock (<c>lock</c> / <c>Monitor.Enter</c>) it waits to enter and the thread holding it.
/// </summary>
/// <paramref name="CompletedWorkItems"/>: a pool worker's count of the work items it completed (the thread pool's own, per thread).
internal sealed record ThreadStack(int ManagedId, uint OsId, bool IsFinalizer, IReadOnlyList<ThreadFrame> Frames, TaskNode? AsyncStep, bool InNativeCode = false,
    LockWait? Lock = null, uint? CompletedWorkItems = null);

/// <summary>The threads of the process, without AsyncLens's own (the engine's threads, in a process running it), counted apart.</summary>
internal sealed record ThreadRead(List<ThreadStack> Threads, int AsyncLensThreads);

internal static class ThreadStacks
{
    private const int MaxFrames = 300;

    private const string EngineModule = "AsyncLens.Engine.dll";

    public static ThreadRead Read(ClrRuntime runtime, RemoteSymbols symbols, HeapTasks tasks)
    {
        var threads = new List<ThreadStack>();
        var read = new List<(ClrThread Thread, List<ThreadFrame> Frames)>();
        var ours = 0;
        var completed = CompletionCounter(runtime);
        foreach (var thread in runtime.Threads)
        {
            if (!thread.IsAlive)
                continue;
            var frames = Frames(thread, symbols, out var moveNexts);
            var native = frames.Count == 0 ? NativeFrames.Read(runtime, thread) : null;
            if (native is { } found)
                frames = [new ThreadFrame(found.Native, null, null, Native: true), .. Callers(found.Callers, symbols)];
            if (IsAsyncLens(frames))
            {
                ours++;
                continue;
            }
            threads.Add(new ThreadStack(thread.ManagedThreadId, thread.OSThreadId, thread.IsFinalizer, frames,
                moveNexts.Count > 0 ? RunningStep(thread, tasks, moveNexts) : null, native is not null, CompletedWorkItems: Completed(completed, thread)));
            read.Add((thread, frames));
        }
        var waits = LockWaits.Read(runtime, read);
        for (var i = 0; i < threads.Count; i++)
        {
            if (waits.TryGetValue(threads[i].ManagedId, out var wait))
                threads[i] = threads[i] with { Lock = wait };
        }
        threads.Sort((a, b) => a.ManagedId.CompareTo(b.ManagedId));
        return new ThreadRead(threads, ours);
    }

    // The thread pool's thread-static counter node of each worker (null where the runtime has none such).
    private static ClrThreadStaticField? CompletionCounter(ClrRuntime runtime) =>
        runtime.Heap.GetTypeByName(ThreadPoolLayout.PoolType)?.ThreadStaticFields.FirstOrDefault(f => f.Name == ThreadPoolLayout.CompletionCounterOn(runtime.ClrInfo.Version.Major));

    private static uint? Completed(ClrThreadStaticField? counter, ClrThread thread) =>
        counter?.ReadObject(thread) is { IsNull: false, Type.Name: ThreadPoolLayout.CounterNodeType } node ? node.ReadField<uint>(ThreadPoolLayout.Count) : null;

    // A thread AsyncLens started (in a process running it): its entry point is the engine's, only the runtime's own
    // code under it (Thread.StartCallback).
    private static bool IsAsyncLens(List<ThreadFrame> frames)
    {
        var entry = frames.FindLastIndex(f => f.Module != "System.Private.CoreLib.dll");
        return entry >= 0 && frames[entry].Module == EngineModule;
    }

    // Managed frames found under native code: the instruction before each return address is its call.
    private static IEnumerable<ThreadFrame> Callers(List<(ClrMethod Method, ulong ReturnAddress)> callers, RemoteSymbols symbols)
    {
        ThreadFrame? previous = null;
        ulong previousAddress = 0;
        foreach (var (method, returnAddress) in callers)
        {
            var frame = Frame(method, returnAddress - 1, symbols);
            // Code that tiered up in the middle of a loop (on-stack replacement) runs on top of its first version:
            // two return addresses into the same line of the same method, which is one frame to the person reading
            // (a recursion returns twice to the same address).
            var tieredUp = previous is not null && previous.Method == frame.Method && previousAddress != returnAddress
                && (previous.At == frame.At || previous.At is null || frame.At is null);
            previousAddress = returnAddress;
            if (tieredUp)
                continue;
            yield return previous = frame;
        }
    }

    // A frame of AsyncLens's code (its engine running on an app thread) is named without the source paths of the machine it was built on.
    private static ThreadFrame Frame(ClrMethod method, ulong ip, RemoteSymbols symbols)
    {
        var path = method.Type?.Module?.Name;
        var module = Path.GetFileName(path);
        var runtimeName = RuntimeNames.Definition(method.Type?.Name) + "." + method.Name;
        return module == EngineModule
            ? new ThreadFrame(symbols.MethodName(method) + " [AsyncLens]", null, module, RuntimeName: runtimeName)
            : InCurrentCode(method, ip) && RemoteSymbols.ILOffsetAt(method, ip) is var offset
                ? new ThreadFrame(symbols.MethodName(method), RemoteSymbols.LineAt(method, offset), module, RuntimeName: runtimeName, App: IsApp(path), Code: method, IlOffset: offset)
                : new ThreadFrame(symbols.MethodName(method), null, module, RuntimeName: runtimeName, App: IsApp(path), Code: method);
    }

    // The app's own code: not .NET's, not a package's (CodeOrigin decides, for a file of the target's as for an assembly).
    private static bool IsApp(string? path) => CodeOrigin.KindOfFile(path) == CodeKind.User;

    // The runtime gives the IL map of a method's current code only: an address in another version of it (the loop a
    // long call entered before the method was compiled again, on-stack replacement) would map to a wrong line.
    private static bool InCurrentCode(ClrMethod method, ulong ip)
    {
        var code = method.HotColdInfo;
        return ip >= code.HotStart && ip < code.HotStart + code.HotSize || code.ColdSize > 0 && ip >= code.ColdStart && ip < code.ColdStart + code.ColdSize;
    }

    /// <summary>
    /// Frames as a person reads them: an async method's first step running on the thread is its own frame once, not
    /// followed by the builder's <c>Start</c> and the method's stub that called it (the same name again, with no line),
    /// as Ben.Demystifier shows an exception's stack.
    /// </summary>
    public static List<ThreadFrame> ForPeople(IReadOnlyList<ThreadFrame> frames)
    {
        var shown = new List<ThreadFrame>(frames.Count);
        for (var i = 0; i < frames.Count; i++)
        {
            if (!IsBuilderStart(frames[i]))
            {
                shown.Add(frames[i]);
                continue;
            }
            while (i + 1 < frames.Count && IsBuilderStart(frames[i + 1]))
                i++;
            if (i + 1 < frames.Count && shown.Count > 0 && frames[i + 1].Method == shown[^1].Method)
                i++;
        }
        return shown;
    }

    // AsyncMethodBuilderCore.Start, and each builder's Start that calls it (AsyncTaskMethodBuilder<TResult>, PoolingAsyncValueTaskMethodBuilder, ...),
    // named with the state machine it starts (`...AsyncMethodBuilderCore.Start[[Npgsql.Internal.NpgsqlConnector+<ReadMessageLong>d__234, Npgsql]]`).
    private static bool IsBuilderStart(ThreadFrame frame) =>
        frame.RuntimeName is { } name && name.StartsWith("System.Runtime.CompilerServices.", StringComparison.Ordinal)
        && name.Split('[')[0] is var method && method.EndsWith(".Start", StringComparison.Ordinal) && method.Contains("MethodBuilder", StringComparison.Ordinal);

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
            frames.Add(Frame(method, frames.Count == 0 ? frame.InstructionPointer : frame.InstructionPointer - 1, symbols));
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
