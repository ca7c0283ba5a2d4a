using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Emit;
using AsyncLens.Runtime.Layout;

namespace AsyncLens.Symbols;

/// <summary>
/// Where an async method's <c>finally</c> blocks that await ended up in its MoveNext. An await cannot sit in a real
/// finally clause, so the compiler moves the block out: the try gets a <c>catch (object)</c> that stores the exception
/// in a field of the state machine (the pending exception), the block follows the handler, and after it the field is
/// read to rethrow. The block is the code from the end of that handler to the first read of the field.
/// </summary>
internal static class FinallyBodies
{
    private static readonly ConcurrentDictionary<MethodBase, (int Start, int End)[]> s_bodies = new();

    /// <summary>True when the IL offset of <paramref name="moveNext"/> lies in a finally block moved out this way.</summary>
    public static bool Contains(MethodBase moveNext, int ilOffset) =>
        Array.Exists(s_bodies.GetOrAdd(moveNext, Find), b => ilOffset >= b.Start && ilOffset < b.End);

    /// <summary>True when the state machine has a pending-exception field: some finally (or catch) of it awaits.</summary>
    public static bool MayAwaitInFinally(Type stateMachine) =>
        Array.Exists(stateMachine.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic),
            f => f.FieldType == typeof(object) && IsHoisted(f.Name));

    private static (int Start, int End)[] Find(MethodBase moveNext)
    {
        try
        {
            if (moveNext.GetMethodBody() is not { } body || body.GetILAsByteArray() is not { } il)
                return [];
            var code = IlReader.Instructions(il);
            var bodies = new List<(int, int)>();
            foreach (var clause in body.ExceptionHandlingClauses)
            {
                if (clause.Flags != ExceptionHandlingClauseOptions.Clause || clause.CatchType != typeof(object))
                    continue;
                var handlerEnd = clause.HandlerOffset + clause.HandlerLength;
                var stored = code.FirstOrDefault(i => i.Offset >= clause.HandlerOffset && i.Offset < handlerEnd && i.OpCode == OpCodes.Stfld && IsPending(moveNext, il, i.Offset));
                if (stored.Next == 0)
                    continue;
                var token = BitConverter.ToInt32(il, stored.Offset + 1);
                var read = code.FirstOrDefault(i => i.Offset >= handlerEnd && i.OpCode == OpCodes.Ldfld && BitConverter.ToInt32(il, i.Offset + 1) == token);
                if (read.Next != 0)
                    bodies.Add((handlerEnd, read.Offset));
            }
            return [.. bodies];
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or BadImageFormatException)
        {
            return [];
        }
    }

    private static bool IsHoisted(string name) =>
        Array.Exists(StateMachineLayout.HoistedTemporaryPrefixes, p => name.StartsWith(p, StringComparison.Ordinal));

    private static bool IsPending(MethodBase moveNext, byte[] il, int offset)
    {
        try
        {
            return moveNext.Module.ResolveField(BitConverter.ToInt32(il, offset + 1),
                moveNext.DeclaringType?.IsGenericType == true ? moveNext.DeclaringType.GetGenericArguments() : null, null) is { } field
                && field.FieldType == typeof(object) && IsHoisted(field.Name);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
