using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Reflection.Emit;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Runtime;

/// <summary>
/// One suspended method of a runtime-async chain: its continuation object, its method and the IL offset it suspended
/// at, and for a generic method (its code shared, so its method is the definition) the arguments its held objects tell.
/// </summary>
internal readonly record struct RuntimeAsyncFrame(object Continuation, MethodBase Method, int ILOffset, GenericContext Generics = default);

/// <summary>
/// Reads .NET 11's runtime-async chains in-process (<see cref="RuntimeAsyncLayout"/>): the suspended methods a chain's
/// task keeps, and what the innermost one awaits. Off (<see cref="IsAvailable"/> false) on a runtime without them.
/// Continuation objects are never asked their type (the runtime refuses): every read is a compiled field load through
/// the <c>Continuation</c> base class, and a type test is a cast.
/// </summary>
internal static class RuntimeAsyncChains
{
    // A chain deeper than this is cut: a recursion thousands of calls deep reads as its innermost frames.
    private const int MaxFrames = 1024;

    private static readonly Assembly s_coreLib = typeof(object).Assembly;
    private static readonly Type? s_taskType = s_coreLib.GetType(RuntimeAsyncLayout.TaskType + "`1");
    private static readonly Type? s_continuationType = s_coreLib.GetType(RuntimeAsyncLayout.ContinuationType);
    private static readonly Type? s_taskContinuationType = s_coreLib.GetType(RuntimeAsyncLayout.TaskContinuationType);
    private static readonly Type? s_sourceContinuationType = s_coreLib.GetType(RuntimeAsyncLayout.ValueTaskSourceContinuationType);
    private static readonly Func<object, object?>? s_chain = s_taskType is null ? null : FieldAccessor.Reader<object?>(typeof(Task), RuntimeAsyncLayout.TaskChain);
    private static readonly Func<object, object?>? s_next = FieldAccessor.Reader<object?>(s_continuationType, RuntimeAsyncLayout.Next);
    private static readonly Func<object, Task?>? s_awaitedTask = FieldAccessor.Reader<Task?>(s_taskContinuationType, RuntimeAsyncLayout.AwaitedTask);
    private static readonly Func<object, Task?>? s_waitingTask = FieldAccessor.Reader<Task?>(s_taskContinuationType, RuntimeAsyncLayout.WaitingTask);
    private static readonly Func<object, object?>? s_awaitedSource = FieldAccessor.Reader<object?>(s_sourceContinuationType, RuntimeAsyncLayout.AwaitedSource);
    private static readonly Func<object, nint>? s_diagnosticIp = DiagnosticIpReader();
    private static readonly Action<nint, Exception>? s_addFrame = AddFrameCaller();

    // Code addresses to methods: a chain's frames are few methods, each suspended at few awaits, met again and again.
    private static readonly ConcurrentDictionary<nint, (MethodBase? Method, int ILOffset)> s_methods = new();

    public static bool IsAvailable =>
        s_taskType is not null && s_chain is not null && s_next is not null && s_diagnosticIp is not null && s_addFrame is not null;

    /// <summary>True for the Task of a runtime-async chain (its delegate is the chain's dispatcher, not work a person wrote).</summary>
    public static bool IsChainTask(object o) =>
        s_taskType is not null && o is Task && o.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == s_taskType;

    /// <summary>The chain's task that waits, when <paramref name="continuation"/> (a task's continuation object) is a chain's await of that task.</summary>
    public static Task? WaitingTask(object continuation) =>
        s_taskContinuationType is not null && s_taskContinuationType.IsInstanceOfType(continuation) ? s_waitingTask?.Invoke(continuation) : null;

    /// <summary>
    /// The suspended methods of <paramref name="task"/>'s chain into <paramref name="frames"/>, the outermost (the one
    /// its synchronous caller called) first, and what the innermost awaits (a task, a value-task source; null for a
    /// custom awaiter or Task.Yield). False while the chain runs (its dispatcher holds it) or when it could not be
    /// read under one suspension. The app runs on meanwhile: a chain read while it moved is read again.
    /// </summary>
    public static bool Read(Task task, List<RuntimeAsyncFrame> frames, out object? awaited)
    {
        awaited = null;
        if (!IsAvailable)
            return false;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            frames.Clear();
            var head = s_chain!(task);
            if (head is null || !s_continuationType!.IsInstanceOfType(head))
                return false;
            awaited = ReadFrames(head, frames);
            if (ReferenceEquals(s_chain(task), head))
            {
                frames.Reverse();
                ShareGenerics(frames);
                return true;
            }
        }
        frames.Clear();
        awaited = null;
        return false;
    }

    private static object? ReadFrames(object head, List<RuntimeAsyncFrame> frames)
    {
        object? awaited = null;
        var c = head;
        for (var i = 0; c is not null && i < MaxFrames; i++, c = s_next!(c))
        {
            if (i == 0 && s_taskContinuationType?.IsInstanceOfType(c) == true)
            {
                awaited = s_awaitedTask?.Invoke(c);
                continue;
            }
            if (i == 0 && s_sourceContinuationType?.IsInstanceOfType(c) == true)
            {
                awaited = s_awaitedSource?.Invoke(c);
                continue;
            }
            var ip = s_diagnosticIp!(c);
            if (ip == 0)
                continue;
            var (method, offset) = s_methods.GetOrAdd(ip, Resolve);
            // A frame whose method is not async is the runtime's thunk awaiting what a Task-returning method returned.
            if (method is not null && ((int)method.MethodImplementationFlags & RuntimeAsyncLayout.AsyncMethodImpl) != 0)
                frames.Add(new RuntimeAsyncFrame(c, method, offset, GenericBinding.IsOpen(method) ? Generics(c, method) : default));
        }
        return awaited;
    }

    // What one frame's held objects told of its generic arguments, told to its neighbours (GenericBinding.Propagate).
    private static void ShareGenerics(List<RuntimeAsyncFrame> frames)
    {
        var open = false;
        foreach (var f in frames)
            open |= GenericBinding.IsOpen(f.Method);
        if (!open || frames.Count < 2)
            return;
        var chain = frames.ConvertAll(f => (f.Method, f.ILOffset, f.Generics));
        try
        {
            GenericBinding.Propagate(chain);
        }
        catch (Exception ex) when (ex is TypeLoadException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            return;
        }
        for (var i = 0; i < frames.Count; i++)
            frames[i] = frames[i] with { Generics = chain[i].Item3 };
    }

    // The instantiation of a shared generic frame, from the types of the objects its continuation holds.
    private static GenericContext Generics(object continuation, MethodBase method)
    {
        var held = t_held ??= [];
        HeldObjects.Read(continuation, held);
        var types = new List<Type>(held.Count);
        foreach (var o in held)
        {
            if (s_continuationType!.IsInstanceOfType(o))
                continue;
            try
            {
                types.Add(o.GetType());
            }
            catch (NotSupportedException)
            {
                // A runtime-made type with no metadata: it says nothing about the method's arguments.
            }
        }
        held.Clear();
        try
        {
            return GenericBinding.Of(method, types);
        }
        catch (Exception ex) when (ex is TypeLoadException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            return default;
        }
    }

    [ThreadStatic]
    private static List<object>? t_held;

    /// <summary>
    /// The method and IL offset of a native code address of jitted (or precompiled) code, any method's, as the runtime
    /// finds them for an exception's async frames; (null, -1) when unknown or on a runtime without that helper. Cached.
    /// </summary>
    public static (MethodBase? Method, int ILOffset) MethodAt(nint ip) =>
        s_addFrame is null || ip == 0 ? (null, -1) : s_methods.GetOrAdd(ip, Resolve);

    /// <summary>
    /// The method and IL offset of a code address, as the runtime finds them for an exception's async frames: the frame
    /// appended to a fresh exception (never thrown) and read back from its stack trace.
    /// </summary>
    private static (MethodBase?, int) Resolve(nint ip)
    {
        try
        {
            var carrier = new InvalidOperationException();
            s_addFrame!(ip, carrier);
            var frames = new StackTrace(carrier, fNeedFileInfo: false).GetFrames();
            return frames is [.., var frame] && frame.GetMethod() is { } method ? (method, frame.GetILOffset()) : (null, -1);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException or MemberAccessException)
        {
            return (null, -1);
        }
    }

    // ((Continuation)o).ResumeInfo->DiagnosticIP, or 0 when the continuation has no ResumeInfo.
    private static Func<object, nint>? DiagnosticIpReader()
    {
        var resumeInfo = s_continuationType?.GetField(RuntimeAsyncLayout.ResumeInfo, FieldAccessor.Instance);
        var ip = s_coreLib.GetType(RuntimeAsyncLayout.ResumeInfoType)?.GetField(RuntimeAsyncLayout.DiagnosticIP, FieldAccessor.Instance);
        if (resumeInfo is null || ip is null)
            return null;
        try
        {
            var method = new DynamicMethod("read_diagnostic_ip", typeof(nint), [typeof(object)], typeof(RuntimeAsyncChains).Module, skipVisibility: true);
            var il = method.GetILGenerator();
            var none = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Castclass, s_continuationType!);
            il.Emit(OpCodes.Ldfld, resumeInfo);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Brfalse_S, none);
            il.Emit(OpCodes.Ldfld, ip);
            il.Emit(OpCodes.Conv_I);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(none);
            il.Emit(OpCodes.Conv_I);
            il.Emit(OpCodes.Ret);
            return method.CreateDelegate<Func<object, nint>>();
        }
        catch (Exception ex) when (ex is InvalidProgramException or NotSupportedException or ArgumentException or MemberAccessException)
        {
            return null;
        }
    }

    private static Action<nint, Exception>? AddFrameCaller()
    {
        var target = s_coreLib.GetType(RuntimeAsyncLayout.HelpersType)?.GetMethods(FieldAccessor.Static)
            .FirstOrDefault(m => m.Name == RuntimeAsyncLayout.AddFrameToException && m.GetParameters() is [{ ParameterType.IsPointer: true }, { ParameterType: var e }] && e == typeof(Exception));
        if (target is null)
            return null;
        try
        {
            var method = new DynamicMethod("add_async_frame", null, [typeof(nint), typeof(Exception)], typeof(RuntimeAsyncChains).Module, skipVisibility: true);
            var il = method.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, target);
            il.Emit(OpCodes.Ret);
            return method.CreateDelegate<Action<nint, Exception>>();
        }
        catch (Exception ex) when (ex is InvalidProgramException or NotSupportedException or ArgumentException or MemberAccessException)
        {
            return null;
        }
    }
}
