using System.Reflection;
using AsyncLens.Inventory;
using AsyncLens.Symbols;
using AsyncLens.Runtime.Layout;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>One suspended method of a runtime-async chain read from another process: its continuation object and its text.</summary>
internal readonly record struct RemoteFrame(ulong Continuation, NodeText Text);

/// <summary>
/// .NET 11's runtime-async chains read from another process's heap (<see cref="RuntimeAsyncLayout"/>), the outside twin
/// of the engine's <c>RuntimeAsyncChains</c>: from a chain's task, its continuation objects, innermost first, and for each
/// the method its <see cref="RuntimeAsyncLayout.DiagnosticIP"/> is in (the runtime's own map of code to methods, as
/// the debugger finds them) with the line of its await. Null (<see cref="For"/>) for a target without the chains.
/// </summary>
internal sealed class RemoteChains
{
    private const int MaxFrames = 1024;

    private readonly ClrRuntime _runtime;
    private readonly RemoteSymbols _symbols;
    private readonly ClrInstanceField _chain;
    private readonly ClrInstanceField _next;
    private readonly ClrInstanceField _resumeInfo;
    private readonly int _diagnosticIpOffset;
    private readonly ClrType? _taskContinuation;
    private readonly ClrInstanceField? _awaitedTask;
    private readonly ClrType? _sourceContinuation;
    private readonly ClrInstanceField? _awaitedSource;
    private readonly Dictionary<ulong, FrameInfo?> _frames = [];

    private RemoteChains(ClrRuntime runtime, RemoteSymbols symbols, ClrInstanceField chain, ClrInstanceField next, ClrInstanceField resumeInfo, int diagnosticIpOffset)
    {
        _runtime = runtime;
        _symbols = symbols;
        _chain = chain;
        _next = next;
        _resumeInfo = resumeInfo;
        _diagnosticIpOffset = diagnosticIpOffset;
        var heap = runtime.Heap;
        _taskContinuation = heap.GetTypeByName(RuntimeAsyncLayout.TaskContinuationType);
        _awaitedTask = _taskContinuation?.GetFieldByName(RuntimeAsyncLayout.AwaitedTask);
        _sourceContinuation = heap.GetTypeByName(RuntimeAsyncLayout.ValueTaskSourceContinuationType);
        _awaitedSource = _sourceContinuation?.GetFieldByName(RuntimeAsyncLayout.AwaitedSource);
    }

    /// <summary>The reader of the target's chains, or null when its runtime has none (before .NET 11).</summary>
    public static RemoteChains? For(ClrRuntime runtime, RemoteSymbols symbols, ClrType task)
    {
        var heap = runtime.Heap;
        var continuation = heap.GetTypeByName(RuntimeAsyncLayout.ContinuationType);
        if (continuation is null || task.GetFieldByName(RuntimeAsyncLayout.TaskChain) is not { } chain
            || continuation.GetFieldByName(RuntimeAsyncLayout.Next) is not { } next || continuation.GetFieldByName(RuntimeAsyncLayout.ResumeInfo) is not { } resumeInfo)
            return null;
        // The struct's field offset, where the runtime describes it; else its place in the layout (after Resume).
        var offset = heap.GetTypeByName(RuntimeAsyncLayout.ResumeInfoType)?.GetFieldByName(RuntimeAsyncLayout.DiagnosticIP)?.Offset
            ?? RuntimeAsyncLayout.DiagnosticIPIndex * runtime.DataTarget.DataReader.PointerSize;
        return new RemoteChains(runtime, symbols, chain, next, resumeInfo, offset);
    }

    /// <summary>
    /// The suspended methods of the chain of the task at <paramref name="task"/>, the outermost first, and what the
    /// innermost awaits (a null object for a custom awaiter or Task.Yield). Empty while the chain runs.
    /// </summary>
    public List<RemoteFrame> Read(ulong task, out ClrObject awaited)
    {
        awaited = default;
        var found = new List<(ClrObject Continuation, FrameInfo Info)>();
        var c = _chain.ReadObject(task, false);
        for (var i = 0; !c.IsNull && i < MaxFrames; i++, c = _next.ReadObject(c.Address, false))
        {
            var mt = c.Type?.MethodTable;
            if (i == 0 && mt is not null && mt == _taskContinuation?.MethodTable)
            {
                awaited = _awaitedTask!.ReadObject(c.Address, false);
                continue;
            }
            if (i == 0 && mt is not null && mt == _sourceContinuation?.MethodTable)
            {
                awaited = _awaitedSource!.ReadObject(c.Address, false);
                continue;
            }
            var info = _resumeInfo.Read<ulong>(c.Address, false);
            if (info != 0 && _runtime.DataTarget.DataReader.ReadPointer(info + (ulong)_diagnosticIpOffset) is var ip and not 0 && Frame(ip) is { } frame)
                found.Add((c, frame));
        }
        found.Reverse();
        var texts = Generics(found);
        var frames = new List<RemoteFrame>(found.Count);
        for (var i = 0; i < found.Count; i++)
            frames.Add(new RemoteFrame(found[i].Continuation.Address, texts?[i] ?? found[i].Info.Text));
        return frames;
    }

    // Shared generic code's frames named with their instantiation, as the engine binds it (GenericBinding): from the types
    // of the objects each continuation holds, then between callers and callees. Null when no frame is generic.
    private NodeText[]? Generics(List<(ClrObject Continuation, FrameInfo Info)> found)
    {
        if (!found.Any(f => f.Info.Method is { } m && GenericBinding.IsOpen(m)))
            return null;
        var chain = new List<(MethodBase Method, int ILOffset, GenericContext Context)>(found.Count);
        foreach (var (continuation, info) in found)
        {
            if (info.Method is not { } method)
                return null;
            var context = GenericBinding.IsOpen(method) ? GenericBinding.Of(method, Held(continuation)) : default;
            chain.Add((method, info.ILOffset, context));
        }
        try
        {
            GenericBinding.Propagate(chain, _symbols.Resolver);
        }
        catch (Exception ex) when (ex is TypeLoadException or NotSupportedException or ArgumentException or InvalidOperationException or FileNotFoundException)
        {
            // What each frame's own objects told stands.
        }
        var texts = new NodeText[found.Count];
        for (var i = 0; i < found.Count; i++)
        {
            var text = found[i].Info.Text;
            texts[i] = chain[i].Context != default && _symbols.MethodName(chain[i].Method, chain[i].Context) is { } name ? text with { Title = name } : text;
        }
        return texts;
    }

    // The exact types of the objects a continuation holds (its live variables), as the files define them.
    private IEnumerable<Type> Held(ClrObject continuation)
    {
        foreach (var held in continuation.EnumerateReferences(carefully: true, considerDependantHandles: false))
        {
            if (held.Type is { } type && _symbols.ExactType(type) is { } exact)
                yield return exact;
        }
    }

    // The method at a code address and the line of its await; null for the runtime's thunk of a method that is not async.
    private FrameInfo? Frame(ulong ip)
    {
        if (_frames.TryGetValue(ip, out var known))
            return known;
        FrameInfo? frame = null;
        if (_runtime.GetMethodByInstructionPointer(ip) is { } method && _symbols.IsRuntimeAsync(method))
        {
            // The resume point is the address after the call it awaits: the byte before it is the call's; where the
            // runtime's map puts no IL there (an epilog or unmapped boundary), the resume point's own region is the call's.
            var offset = RemoteSymbols.ILOffsetAt(method, ip - 1) is var at and >= 0 ? at : RemoteSymbols.ILOffsetAt(method, ip);
            frame = new FrameInfo(new NodeText(_symbols.MethodName(method), RemoteSymbols.LineAt(method, offset), null), _symbols.MethodOf(method), offset);
        }
        _frames[ip] = frame;
        return frame;
    }

    private sealed record FrameInfo(NodeText Text, MethodBase? Method, int ILOffset);
}
