using System.Reflection.Emit;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Symbols;

/// <summary>A member an IL token names: its declaring type (namespace, nested types joined by <c>+</c>), its name, and a method's parameter count.</summary>
internal readonly record struct IlMember(string DeclaringType, string Name, int Parameters = 0);

/// <summary>A try block and its finally handler, as IL offsets (ends exclusive).</summary>
internal readonly record struct IlFinally(int TryStart, int TryEnd, int HandlerStart, int HandlerEnd);

/// <summary>
/// One method body to read: its IL, its finally clauses, and what its tokens name (reflection in-process, the file's
/// metadata from outside); <paramref name="Callee"/>: the body of a method of the same module a call token names, where
/// it can be read (a finally that releases through a method of its own).
/// </summary>
internal sealed record MethodIl(byte[] Il, IReadOnlyList<IlFinally> Finallys, Func<int, IlMember?> Resolve, Func<int, MethodIl?>? Callee = null);

/// <summary>
/// A try block whose finally releases a lock that keeps no owner (a <see cref="SemaphoreSlim"/>, a read lock, a
/// <see cref="Mutex"/>: <see cref="LockLayout.Releases"/>): code inside it holds the lock (the shape
/// <c>await gate.WaitAsync(); try { ... } finally { gate.Release(); }</c> takes, or <c>gate.Wait()</c> in a method run by a
/// thread). <paramref name="Static"/>: the lock is the static field <paramref name="Path"/>[0]; else it is read through
/// the fields of <paramref name="Path"/> from the method's <c>this</c> (a state machine: a hoisted local, or
/// <c>&lt;&gt;4__this</c> then the instance's field); an empty path: a local of the method (a lock looked up, not a
/// field: the holder's stack holds it). <paramref name="AcquireOffset"/>: the last call that takes such a lock before
/// the try, if any. <paramref name="LockType"/>: the type whose release the finally calls (itself, or in a method of its
/// own it calls there: <paramref name="ReleaseOffset"/> is then that call).
/// </summary>
internal sealed record SemaphoreGuard(int TryStart, int TryEnd, bool Static, IReadOnlyList<IlMember> Path, int ReleaseOffset, int? AcquireOffset,
    string LockType = LockLayout.SemaphoreType)
{
    public bool Covers(int ilOffset) => ilOffset >= TryStart && ilOffset < TryEnd;

    /// <summary>A local of the method, not a field: read from the holder's stack.</summary>
    public bool Local => !Static && Path.Count == 0;

    /// <summary>The lock as written: <c>Stock._gate</c>, <c>Stock.s_gate</c>, a hoisted local's name (<c>gate</c>); null for a local.</summary>
    public string? Name => Local ? null : SemaphoreGuards.NameOf(Static, Path);
}

/// <summary>What a call's receiver is loaded from: a static field (<paramref name="Path"/>[0]) or fields from the method's <c>this</c>.</summary>
internal readonly record struct IlReceiver(bool Static, IReadOnlyList<IlMember> Path)
{
    public string Name => SemaphoreGuards.NameOf(Static, Path);
}

/// <summary>
/// Finds, in an async method's MoveNext, the try blocks whose finally releases a semaphore and where that semaphore
/// is loaded from: the runtime records no owner for a <see cref="SemaphoreSlim"/>, so the holder is the pending method
/// parked inside such a block (it acquired the semaphore and has not reached the release).
/// </summary>
internal static class SemaphoreGuards
{
    private const int MaxPath = 4;

    // How many calls deep a finally's release is followed: helpers of helpers, not any call graph (a recursive helper ends here).
    private const int MaxDepth = 4;

    /// <summary>The guards of <see cref="SemaphoreSlim"/>s (what async code holds across an await).</summary>
    public static IReadOnlyList<SemaphoreGuard> Find(MethodIl method) => Find(method, [LockLayout.Releases[0]]);

    /// <summary>The guards of any of <paramref name="releases"/>.</summary>
    public static IReadOnlyList<SemaphoreGuard> Find(MethodIl method, IReadOnlyList<GuardedRelease> releases)
    {
        var guards = new List<SemaphoreGuard>();
        if (method.Finallys.Count == 0)
            return guards;
        var code = IlReader.Instructions(method.Il);
        foreach (var clause in method.Finallys)
        {
            for (var i = 0; i < code.Count; i++)
            {
                var instruction = code[i];
                if (instruction.Offset < clause.HandlerStart || instruction.Offset >= clause.HandlerEnd || !IsCall(instruction.OpCode)
                    || (Released(method, code, i, releases, locals: true) ?? ReleasedInCallee(method, code, i, releases)) is not var (kind, isStatic, path))
                    continue;
                var acquire = code.LastOrDefault(c => c.Offset < clause.TryStart && IsCall(c.OpCode) && Member(method, c) is { } m
                    && m.DeclaringType == kind.AcquireType && kind.Acquire.Contains(m.Name));
                guards.Add(new SemaphoreGuard(clause.TryStart, clause.TryEnd, isStatic, path, instruction.Offset, acquire.Next == 0 ? null : acquire.Offset, kind.Type));
            }
        }
        return guards;
    }

    // The lock code[i] releases, if it is a release of one of `releases`: its kind and where it is loaded from (a local
    // of the method, when `locals`, as an empty path).
    private static (GuardedRelease Kind, bool Static, List<IlMember> Path)? Released(MethodIl method, IReadOnlyList<IlInstruction> code, int i,
        IReadOnlyList<GuardedRelease> releases, bool locals)
    {
        if (ReleaseOf(method, code, i, releases) is not var (kind, loadEnd) || Load(method, code, loadEnd) is not var (isStatic, path, local) || local && !locals)
            return null;
        return (kind, isStatic, path);
    }

    // code[i] as a release of one of `releases`: its kind, and the index of the last instruction loading what it releases.
    private static (GuardedRelease Kind, int LoadEnd)? ReleaseOf(MethodIl method, IReadOnlyList<IlInstruction> code, int i, IReadOnlyList<GuardedRelease> releases)
    {
        if (Member(method, code[i]) is not { Parameters: <= 1 } release || releases.FirstOrDefault(r => r.Type == release.DeclaringType && r.Release == release.Name) is not { } kind)
            return null;
        // Release(int) takes its count after the semaphore: one constant to step over.
        var loadEnd = i - 1 - (release.Parameters == 1 && i > 0 && IsConstant(code[i - 1].OpCode) ? 1 : 0);
        return loadEnd >= 0 ? (kind, loadEnd) : null;
    }

    // The argument an ldarg loads (ldarg.0-3, ldarg.s), or null.
    private static int? Argument(MethodIl method, IlInstruction instruction)
    {
        var op = instruction.OpCode.Value;
        if (op >= OpCodes.Ldarg_0.Value && op <= OpCodes.Ldarg_3.Value)
            return op - OpCodes.Ldarg_0.Value;
        return op == OpCodes.Ldarg_S.Value && instruction.Offset + 1 < method.Il.Length ? method.Il[instruction.Offset + 1] : null;
    }

    // A finally that calls a method of its own that releases the lock, itself or through methods of its own it calls in
    // turn (up to MaxDepth calls deep: `finally { Leave(); }`, with `void Leave() { Log(); Open(); }` and
    // `void Open() => _gate.Release();`): the lock is the last callee's static field, or its fields from the `this` each
    // call is made on, from the `this` the finally calls the first on; or the lock is the callee's one argument
    // (`finally { Free(_gate); }`, with `static void Free(SemaphoreSlim gate) => Let(gate);` and
    // `static void Let(SemaphoreSlim gate) => gate.Release();`): what the finally passes.
    private static (GuardedRelease Kind, bool Static, List<IlMember> Path)? ReleasedInCallee(MethodIl method, IReadOnlyList<IlInstruction> code, int i,
        IReadOnlyList<GuardedRelease> releases, int depth = 1)
    {
        if (depth > MaxDepth || method.Callee is null || Member(method, code[i]) is not { Parameters: 0 or 1 } call
            || method.Callee(BitConverter.ToInt32(method.Il, code[i].Offset + 1)) is not { } callee)
            return null;
        if (call.Parameters == 1)
        {
            return ReleasesArgument(code[i], callee, releases, depth) is { } passed && Load(method, code, i - 1) is var (byStatic, byPath, _)
                ? (passed, byStatic, byPath) : null;
        }
        var inside = IlReader.Instructions(callee.Il);
        for (var j = 0; j < inside.Count; j++)
        {
            if (!IsCall(inside[j].OpCode)
                || (Released(callee, inside, j, releases, locals: false) ?? ReleasedInCallee(callee, inside, j, releases, depth + 1)) is not var (kind, isStatic, path))
                continue;
            if (isStatic)
                return (kind, true, path);
            // The callee's `this` is what the caller called it on: ldarg.0 (the caller's own), or fields from it.
            if (Load(method, code, i - 1, self: true) is (false, var receiver, false))
                return (kind, false, [.. receiver, .. path]);
        }
        return null;
    }

    // The lock `callee`, called by `call` with one argument, releases when that argument is it: itself, or by passing
    // its argument on to a method of its own that does (up to MaxDepth calls deep).
    private static GuardedRelease? ReleasesArgument(IlInstruction call, MethodIl callee, IReadOnlyList<GuardedRelease> releases, int depth)
    {
        var inside = IlReader.Instructions(callee.Il);
        // Its argument is ldarg.0 in a static method, ldarg.1 in an instance one (callvirt: one; call: either).
        bool Passed(int load) => load >= 0 && Argument(callee, inside[load]) is int argument && (argument == 1 || argument == 0 && call.OpCode.Value == OpCodes.Call.Value);
        for (var j = 0; j < inside.Count; j++)
        {
            if (!IsCall(inside[j].OpCode))
                continue;
            if (ReleaseOf(callee, inside, j, releases) is var (kind, load) && Passed(load))
                return kind;
            if (depth < MaxDepth && Passed(j - 1) && callee.Callee is { } read && Member(callee, inside[j]) is { Parameters: 1 }
                && read(BitConverter.ToInt32(callee.Il, inside[j].Offset + 1)) is { } next && ReleasesArgument(inside[j], next, releases, depth + 1) is { } deeper)
                return deeper;
        }
        return null;
    }

    /// <summary>
    /// The receiver of the first call at or after <paramref name="ilOffset"/> to a method of one of <paramref name="types"/>
    /// (a thread's frame maps to the start of its statement, the call comes after the loads): where the lock or event a
    /// thread waits on was loaded from, when the call takes no argument but constants.
    /// </summary>
    public static IlReceiver? Receiver(MethodIl method, int ilOffset, IReadOnlyCollection<string> types)
    {
        var code = IlReader.Instructions(method.Il);
        for (var i = 0; i < code.Count; i++)
        {
            if (code[i].Offset < ilOffset || !IsCall(code[i].OpCode) || Member(method, code[i]) is not { } call)
                continue;
            if (!types.Contains(call.DeclaringType))
                return null;
            var end = i - 1;
            for (var p = 0; p < call.Parameters && end >= 0 && IsConstant(code[end].OpCode); p++)
                end--;
            return end == i - 1 - call.Parameters && Load(method, code, end) is (var isStatic, var path, false) ? new IlReceiver(isStatic, path) : null;
        }
        return null;
    }

    /// <summary>A lock as written: <c>Stock._gate</c>, <c>Stock.s_gate</c>, or a hoisted local's name (<c>gate</c>).</summary>
    internal static string NameOf(bool isStatic, IReadOnlyList<IlMember> path)
    {
        var last = path[^1];
        if (!isStatic && path.Count == 1 && last.Name.StartsWith('<') && last.Name.IndexOf('>', StringComparison.Ordinal) is var close and > 1)
            return last.Name[1..close];
        var type = last.DeclaringType[(last.DeclaringType.LastIndexOfAny(['.', '+']) + 1)..];
        return $"{type}.{last.Name}";
    }

    private static bool IsCall(OpCode op) => op.Value == OpCodes.Call.Value || op.Value == OpCodes.Callvirt.Value;

    private static bool IsConstant(OpCode op) => op.Value >= OpCodes.Ldc_I4_M1.Value && op.Value <= OpCodes.Ldc_I4.Value;

    private static IlMember? Member(MethodIl method, IlInstruction instruction) =>
        instruction.Offset + 5 <= method.Il.Length ? method.Resolve(BitConverter.ToInt32(method.Il, instruction.Offset + 1)) : null;

    // The loads that put the semaphore on the stack, ending at code[end]: ldsfld, or ldarg.0 then ldfld..., where a
    // local may stand for ldarg.0 + ldfld (MoveNext keeps `this` of the method in one: ldarg.0; ldfld <>4__this; stloc)
    // or for ldsfld (a copy of a static). Any other local, loaded alone: `Local` (what it holds is on the stack).
    // `self`: a bare ldarg.0 (the method's own `this`) is an empty path.
    private static (bool Static, List<IlMember> Path, bool Local)? Load(MethodIl method, IReadOnlyList<IlInstruction> code, int end, bool self = false)
    {
        var fields = new List<IlMember>();
        for (var i = end; i >= 0 && fields.Count <= MaxPath; i--)
        {
            var op = code[i].OpCode;
            if (op.Value == OpCodes.Ldfld.Value && Member(method, code[i]) is { } field)
            {
                fields.Insert(0, field);
            }
            else if (op.Value == OpCodes.Ldsfld.Value && Member(method, code[i]) is { } root)
            {
                return fields.Count == 0 ? (true, [root], false) : null;
            }
            else if (op.Value == OpCodes.Ldarg_0.Value)
            {
                return fields.Count > 0 || self ? (false, fields, false) : null;
            }
            else if (Local(method, code[i]) is int local)
            {
                if (StoredFromField(method, code, local) is var (isStatic, stored))
                    return isStatic ? fields.Count == 0 ? (true, [stored], false) : null : (false, [stored, .. fields], false);
                return fields.Count == 0 && i == end ? (false, [], true) : null;
            }
            else
            {
                return null;
            }
        }
        return null;
    }

    private static int? Local(MethodIl method, IlInstruction instruction)
    {
        var op = instruction.OpCode.Value;
        if (op >= OpCodes.Ldloc_0.Value && op <= OpCodes.Ldloc_3.Value)
            return op - OpCodes.Ldloc_0.Value;
        return op == OpCodes.Ldloc_S.Value && instruction.Offset + 1 < method.Il.Length ? method.Il[instruction.Offset + 1] : null;
    }

    // The field a local was set from, when every store to it is `ldarg.0; ldfld F; stloc` (a field of `this`) or
    // `ldsfld F; stloc` (a static).
    private static (bool Static, IlMember Field)? StoredFromField(MethodIl method, IReadOnlyList<IlInstruction> code, int local)
    {
        (bool Static, IlMember Field)? from = null;
        for (var i = 0; i < code.Count; i++)
        {
            var op = code[i].OpCode.Value;
            var stored = op >= OpCodes.Stloc_0.Value && op <= OpCodes.Stloc_3.Value ? op - OpCodes.Stloc_0.Value
                : op == OpCodes.Stloc_S.Value && code[i].Offset + 1 < method.Il.Length ? method.Il[code[i].Offset + 1] : -1;
            if (stored != local)
                continue;
            (bool, IlMember)? here = i >= 2 && code[i - 2].OpCode.Value == OpCodes.Ldarg_0.Value && code[i - 1].OpCode.Value == OpCodes.Ldfld.Value
                && Member(method, code[i - 1]) is { } field ? (false, field)
                : i >= 1 && code[i - 1].OpCode.Value == OpCodes.Ldsfld.Value && Member(method, code[i - 1]) is { } root ? (true, root) : null;
            if (here is null || from is { } other && other != here)
                return null;
            from = here;
        }
        return from;
    }
}
