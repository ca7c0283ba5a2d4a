using System.Reflection;
using System.Reflection.Emit;

namespace AsyncLens.Symbols;

/// <summary>
/// Decodes a method body far enough to list the methods it calls, with IL offsets.
/// Creation sites and the blocking call of a slow step are found this way, lazily,
/// instead of capturing a stack trace on the hot path.
/// </summary>
internal static class IlReader
{
    private static readonly OpCode[] s_oneByte = new OpCode[0x100];
    private static readonly OpCode[] s_twoByte = new OpCode[0x100];

    static IlReader()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.GetValue(null) is not OpCode op)
                continue;
            var value = (ushort)op.Value;
            if (value < 0x100)
                s_oneByte[value] = op;
            else if ((value & 0xFF00) == 0xFE00)
                s_twoByte[value & 0xFF] = op;
        }
    }

    /// <summary>
    /// Every call, callvirt, newobj, ldftn and ldvirtftn in the body, with its resolved target. Tokens are resolved by
    /// the method's module, or by <paramref name="resolve"/> where the module cannot (a MetadataLoadContext's).
    /// </summary>
    public static IReadOnlyList<IlCall> Calls(MethodBase method, MethodResolver? resolve = null)
    {
        if (Body(method) is not { } il)
            return [];
        var typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var calls = new List<IlCall>();
        Walk(il, (offset, op, operand) =>
        {
            if (op.OperandType == OperandType.InlineMethod && operand + 4 <= il.Length
                && (resolve ?? Resolve)(method.Module, BitConverter.ToInt32(il, operand), typeArgs, methodArgs) is { } target)
                calls.Add(new IlCall(offset, op.Value == OpCodes.Ldftn.Value || op.Value == OpCodes.Ldvirtftn.Value, target));
        });
        return calls;
    }

    /// <summary>Every branch back to an earlier offset (a loop), with the offset it goes back to.</summary>
    public static IReadOnlyList<IlLoop> Loops(MethodBase method)
    {
        if (Body(method) is not { } il)
            return [];
        var loops = new List<IlLoop>();
        Walk(il, (offset, op, operand) =>
        {
            var target = op.OperandType switch
            {
                OperandType.ShortInlineBrTarget when operand + 1 <= il.Length => operand + 1 + (sbyte)il[operand],
                OperandType.InlineBrTarget when operand + 4 <= il.Length => operand + 4 + BitConverter.ToInt32(il, operand),
                _ => int.MaxValue,
            };
            if (target <= offset)
                loops.Add(new IlLoop(target, offset));
        });
        return loops;
    }

    /// <summary>Every instruction of <paramref name="il"/> with its branch targets, in order (see <see cref="ControlFlow"/>).</summary>
    public static IReadOnlyList<IlInstruction> Instructions(byte[] il)
    {
        var code = new List<IlInstruction>();
        Walk(il, (offset, op, operand) =>
        {
            var next = operand + OperandSize(op.OperandType, il, operand);
            int[] targets = op.OperandType switch
            {
                OperandType.ShortInlineBrTarget when operand + 1 <= il.Length => [operand + 1 + (sbyte)il[operand]],
                OperandType.InlineBrTarget when operand + 4 <= il.Length => [operand + 4 + BitConverter.ToInt32(il, operand)],
                OperandType.InlineSwitch when next <= il.Length => SwitchTargets(il, operand, next),
                _ => [],
            };
            code.Add(new IlInstruction(offset, Math.Min(next, il.Length), op, targets));
        });
        return code;
    }

    private static int[] SwitchTargets(byte[] il, int operand, int next)
    {
        var count = BitConverter.ToInt32(il, operand);
        var targets = new int[count];
        for (var i = 0; i < count; i++)
            targets[i] = next + BitConverter.ToInt32(il, operand + 4 + (4 * i));
        return targets;
    }

    private static byte[]? Body(MethodBase method)
    {
        try
        {
            return method.GetMethodBody()?.GetILAsByteArray();
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or BadImageFormatException)
        {
            return null;
        }
    }

    // Calls visit(offset, opcode, offset of its operand) for each instruction, in order.
    private static void Walk(byte[] il, Action<int, OpCode, int> visit)
    {
        var pos = 0;
        while (pos < il.Length)
        {
            var offset = pos;
            OpCode op;
            var b = il[pos++];
            if (b == 0xFE)
            {
                if (pos >= il.Length)
                    break;
                op = s_twoByte[il[pos++]];
            }
            else
            {
                op = s_oneByte[b];
            }
            if (op.Size == 0)
                break; // not an opcode: stop rather than misread the rest
            visit(offset, op, pos);
            pos += OperandSize(op.OperandType, il, pos);
        }
    }

    private static MethodBase? Resolve(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        try
        {
            return module.ResolveMethod(token, typeArgs, methodArgs);
        }
        catch (Exception ex) when (ex is ArgumentException or BadImageFormatException or TypeLoadException or MissingMethodException or FileNotFoundException or FileLoadException)
        {
            return null;
        }
    }

    private static int OperandSize(OperandType type, byte[] il, int pos) => type switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => pos + 4 <= il.Length ? 4 + (4 * BitConverter.ToInt32(il, pos)) : il.Length,
        _ => 4,
    };
}

/// <summary>A method token of a module resolved in a generic context (<see cref="Module.ResolveMethod(int, Type[], Type[])"/>'s shape); null when it cannot be.</summary>
internal delegate MethodBase? MethodResolver(Module module, int token, Type[]? typeArgs, Type[]? methodArgs);

/// <summary>A call (or a delegate creation, <see cref="TakesAddress"/>) at an IL offset.</summary>
internal readonly record struct IlCall(int Offset, bool TakesAddress, MethodBase Target);

/// <summary>A loop: a branch at <paramref name="BackEdge"/> back to <paramref name="Head"/>.</summary>
internal readonly record struct IlLoop(int Head, int BackEdge);

/// <summary>One IL instruction: where it is, where the next one starts, and where it may branch to.</summary>
internal readonly record struct IlInstruction(int Offset, int Next, OpCode OpCode, int[] Targets)
{
    /// <summary>Control does not simply fall through to the next instruction (a branch, a return, a throw).</summary>
    public bool EndsBlock => OpCode.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch or FlowControl.Return or FlowControl.Throw
        || OpCode.Value == OpCodes.Jmp.Value;
}
