using System.Collections.Concurrent;
using System.Reflection;

namespace AsyncLens.Symbols;

/// <summary>Source lines and call sites of any method, cached. Symbols are read lazily, off the app's hot path.</summary>
internal static class MethodSymbols
{
    private static readonly ConcurrentDictionary<MethodBase, IReadOnlyList<IlCall>> s_calls = new();
    private static readonly ConcurrentDictionary<MethodBase, IReadOnlyList<IlLoop>> s_loops = new();

    public static SequencePointTable? Lines(MethodBase method) =>
        method.Module.Assembly is { } asm ? AssemblySymbols.For(asm)?.SequencePoints(method) : null;

    public static SourceLocation? LineAt(MethodBase method, int ilOffset) =>
        ilOffset < 0 ? null : Lines(method)?.At(ilOffset);

    public static IReadOnlyList<IlCall> Calls(MethodBase method) => s_calls.GetOrAdd(method, static m => IlReader.Calls(m));

    public static IReadOnlyList<IlLoop> Loops(MethodBase method) => s_loops.GetOrAdd(method, IlReader.Loops);

    /// <summary>True when both name the same method definition, whatever the generic instantiation.</summary>
    public static bool SameDefinition(MethodBase a, MethodBase b) =>
        a.MetadataToken == b.MetadataToken && a.Module == b.Module;

    /// <summary>Calls in <paramref name="method"/> to <paramref name="target"/> (or delegates made of it), in IL order.</summary>
    public static IEnumerable<IlCall> CallsTo(MethodBase method, MethodBase target, IlRanges ranges)
    {
        foreach (var call in Calls(method))
        {
            if (ranges.Contains(call.Offset) && SameDefinition(call.Target, target))
                yield return call;
        }
    }
}

/// <summary>One or two IL offset ranges (a step that loops back wraps around the method end).</summary>
internal readonly record struct IlRanges(int Start, int End, int WrapEnd = -1)
{
    public static readonly IlRanges All = new(0, int.MaxValue);

    public bool Contains(int offset) => (offset >= Start && offset <= End) || offset <= WrapEnd;

    public static IlRanges Between(int start, int end) =>
        end >= start ? new IlRanges(start, end) : new IlRanges(start, int.MaxValue, end);
}
