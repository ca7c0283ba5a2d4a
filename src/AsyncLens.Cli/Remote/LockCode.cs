using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The code side of locks that keep no owner: a method's IL read from its module's file (the try blocks whose finally
/// releases a lock, <see cref="SemaphoreGuards"/>; the lock a call waits on), and the object such code names, read
/// from the process (a static field, or fields from an object of the method's type). One reader per read of a process:
/// it caches the files and each method's guards.
/// </summary>
internal sealed class LockCode(ClrRuntime runtime) : IDisposable
{
    private readonly Dictionary<string, PEReader?> _files = [];
    private readonly Dictionary<(string, int), IReadOnlyList<SemaphoreGuard>> _guards = [];

    /// <summary>The guards of any lock of <see cref="LockLayout.Releases"/> in the method.</summary>
    public IReadOnlyList<SemaphoreGuard> Guards(ClrMethod method)
    {
        if (method.Type?.Module?.Name is not { Length: > 0 } path)
            return [];
        if (!_guards.TryGetValue((path, method.MetadataToken), out var guards))
            _guards[(path, method.MetadataToken)] = guards = Body(path, method.MetadataToken) is { } body ? SemaphoreGuards.Find(body, LockLayout.Releases) : [];
        return guards;
    }

    /// <summary>What the call at (or first after) <paramref name="ilOffset"/> in the method is made on, when it is a method of one of <paramref name="types"/>.</summary>
    public IlReceiver? Receiver(ClrMethod method, int ilOffset, IReadOnlyCollection<string> types) =>
        method.Type?.Module?.Name is { Length: > 0 } path && Body(path, method.MetadataToken) is { } body ? SemaphoreGuards.Receiver(body, ilOffset, types) : null;

    /// <summary>The static field's object (null object when it is not one, or cannot be read).</summary>
    public ClrObject Static(IlMember field)
    {
        var domain = runtime.AppDomains.FirstOrDefault() ?? runtime.SystemDomain;
        return domain is not null && runtime.Heap.GetTypeByName(field.DeclaringType)?.GetStaticFieldByName(field.Name) is { IsObjectReference: true } f
            ? f.ReadObject(domain) : default;
    }

    /// <summary>The object at the end of <paramref name="path"/>, from <paramref name="obj"/> (the first field is one of its own).</summary>
    public static ClrObject Follow(ClrObject obj, IEnumerable<IlMember> path)
    {
        foreach (var field in path)
        {
            if (obj.IsNull || obj.Type?.GetFieldByName(field.Name) is not { IsObjectReference: true })
                return default;
            obj = obj.ReadObjectField(field.Name);
        }
        return obj;
    }

    /// <summary>
    /// The objects a thread inside <paramref name="guard"/> may hold: the one it names (<see cref="Named"/>), or for a
    /// lock kept in a local, each object of the lock's type on the thread's stack but <paramref name="waitedOn"/> (the
    /// one the thread itself waits for, which it does not hold).
    /// </summary>
    public IEnumerable<ClrObject> Held(SemaphoreGuard guard, ClrThread thread, ulong waitedOn) => guard.Local
        ? thread.EnumerateStackRoots().Select(r => r.Object).Where(o => !o.IsNull && o.Type?.Name == guard.LockType && o.Address != waitedOn)
        : Named(guard.Static, guard.Path, thread);

    /// <summary>
    /// The object a thread's frame names by a static field or a path from its <c>this</c>: the static field, or the path
    /// followed from each object on the thread's stack of the type that declares the path's first field.
    /// </summary>
    public IEnumerable<ClrObject> Named(bool isStatic, IReadOnlyList<IlMember> path, ClrThread thread)
    {
        if (isStatic)
        {
            yield return Follow(Static(path[0]), path.Skip(1));
            yield break;
        }
        var seen = new HashSet<ulong>();
        foreach (var root in thread.EnumerateStackRoots())
        {
            // A path's first field is declared by the frame's own type (a state machine's, or the holder's `this`).
            if (root.Object is { IsNull: false } obj && obj.Type?.Name == path[0].DeclaringType && seen.Add(obj.Address))
                yield return Follow(obj, path);
        }
    }

    // The method's IL and finally clauses from its module's file, its tokens named from the file's metadata; a call's
    // method of the same file (a method definition token) read the same way.
    internal MethodIl? Body(string path, int token)
    {
        const int MethodDefinition = 0x06;
        if (!_files.TryGetValue(path, out var pe))
            _files[path] = pe = RemoteSymbols.Try(() => File.Exists(path) ? new PEReader(File.OpenRead(path)) : null);
        return pe is null ? null : RemoteSymbols.Try(() =>
        {
            var metadata = pe.GetMetadataReader();
            var method = metadata.GetMethodDefinition(MetadataTokens.MethodDefinitionHandle(token & 0xFFFFFF));
            var body = pe.GetMethodBody(method.RelativeVirtualAddress);
            var finallys = body.ExceptionRegions.Where(r => r.Kind == ExceptionRegionKind.Finally)
                .Select(r => new IlFinally(r.TryOffset, r.TryOffset + r.TryLength, r.HandlerOffset, r.HandlerOffset + r.HandlerLength)).ToList();
            return new MethodIl(body.GetILBytes() ?? [], finallys, t => MetadataNames.Member(metadata, t), t => t >>> 24 == MethodDefinition ? Body(path, t) : null);
        });
    }

    public void Dispose()
    {
        foreach (var pe in _files.Values)
            pe?.Dispose();
    }
}
