using System.Reflection;
using System.Reflection.Emit;

namespace AsyncLens.Symbols;

/// <summary>
/// The basic blocks of one method body and the branches between them, built from its IL bytes and exception clauses.
/// A slow stretch of an async method runs from where it resumed to where it stopped; the IL between those two
/// offsets also holds code the stretch may have skipped (the other side of an <c>if</c>, a <c>switch</c>'s other
/// cases, code before a loop that the stretch looped back over). <see cref="Paths"/> tells code that ran on every
/// path from one to the other from code that only might have.
/// </summary>
internal sealed class ControlFlow
{
    private readonly int[] _starts;
    private readonly int[][] _next;
    private readonly int[][] _onThrow;
    private readonly bool[] _exits;

    private ControlFlow(int[] starts, int[][] next, int[][] onThrow, bool[] exits)
    {
        _starts = starts;
        _next = next;
        _onThrow = onThrow;
        _exits = exits;
    }

    public int BlockCount => _starts.Length;

    /// <summary>Where the blocks that return from the method start.</summary>
    public IEnumerable<int> Exits => _starts.Where((_, b) => _exits[b]);

    /// <summary>The flow of <paramref name="il"/>; every offset in <paramref name="cuts"/> starts a block of its own.</summary>
    public static ControlFlow Of(byte[] il, IReadOnlyList<IlClause> clauses, IEnumerable<int> cuts)
    {
        var code = IlReader.Instructions(il);
        var leaders = new SortedSet<int> { 0 };
        foreach (var ins in code)
        {
            foreach (var t in ins.Targets)
                leaders.Add(t);
            // A call in a try may throw to its handlers: what follows it runs only if it did not.
            if (ins.EndsBlock || (ins.OpCode.FlowControl == FlowControl.Call && clauses.Any(c => ins.Offset >= c.TryStart && ins.Offset < c.TryEnd)))
                leaders.Add(ins.Next);
        }
        foreach (var c in clauses)
        {
            leaders.UnionWith([c.TryStart, c.TryEnd, c.HandlerStart, c.HandlerEnd]);
            if (c.FilterStart >= 0)
                leaders.Add(c.FilterStart);
        }
        leaders.UnionWith(cuts);
        var starts = leaders.Where(o => o >= 0 && o < il.Length).ToArray();
        var next = new int[starts.Length][];
        var onThrow = new int[starts.Length][];
        var exits = new bool[starts.Length];
        var finallyExits = FinallyExits(code, clauses);
        var offsets = code.Select(i => i.Offset).ToArray();
        for (var b = 0; b < starts.Length; b++)
        {
            var end = b + 1 < starts.Length ? starts[b + 1] : il.Length;
            var at = Array.BinarySearch(offsets, end - 1);
            at = at >= 0 ? at : ~at - 1;
            var last = at >= 0 && offsets[at] >= starts[b] ? code[at] : default;
            var successors = new List<int>();
            if (last.OpCode.Size == 0)
                successors.Add(end); // an empty block (a cut past the code): falls through
            else if (last.OpCode.FlowControl == FlowControl.Return && last.OpCode.Value == OpCodes.Endfinally.Value)
                successors.AddRange(finallyExits.GetValueOrDefault(Handler(clauses, last.Offset), []));
            else if (last.OpCode.Value == OpCodes.Endfilter.Value)
                successors.AddRange(clauses.Where(c => c.FilterStart >= 0 && last.Offset >= c.FilterStart && last.Offset < c.HandlerStart).Select(c => c.HandlerStart));
            else if (last.OpCode.Value == OpCodes.Leave.Value || last.OpCode.Value == OpCodes.Leave_S.Value)
                successors.Add(FinallyOnTheWay(clauses, last.Offset, last.Targets[0]) ?? last.Targets[0]);
            else
            {
                successors.AddRange(last.Targets);
                if (!last.EndsBlock || last.OpCode.FlowControl == FlowControl.Cond_Branch)
                    successors.Add(last.Next);
            }
            exits[b] = last.OpCode.Value == OpCodes.Ret.Value;
            next[b] = successors.Where(o => o < il.Length).Select(o => BlockAt(starts, o)).Distinct().ToArray();
            onThrow[b] = clauses.Where(c => starts[b] >= c.TryStart && starts[b] < c.TryEnd)
                .Select(c => BlockAt(starts, c.FilterStart >= 0 ? c.FilterStart : c.HandlerStart)).Distinct().ToArray();
        }
        return new ControlFlow(starts, next, onThrow, exits);
    }

    /// <summary>The flow of a method's body, or null when its IL cannot be read.</summary>
    public static ControlFlow? Of(MethodBase method, IEnumerable<int> cuts)
    {
        try
        {
            if (method.GetMethodBody() is not { } body || body.GetILAsByteArray() is not { } il)
                return null;
            var clauses = body.ExceptionHandlingClauses.Select(c => new IlClause(c.Flags, c.TryOffset, c.TryOffset + c.TryLength,
                c.HandlerOffset, c.HandlerOffset + c.HandlerLength, c.Flags == ExceptionHandlingClauseOptions.Filter ? c.FilterOffset : -1)).ToArray();
            return Of(il, clauses, cuts);
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or BadImageFormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// What ran between <paramref name="from"/> and one of <paramref name="to"/> (offsets; empty: the method's end),
    /// never passing through <paramref name="barriers"/> (another await that would have ended the stretch there).
    /// <paramref name="withExceptions"/>: an exception may have been thrown on the way (its handlers may have run).
    /// <paramref name="to"/> null: the stretch has not stopped yet (still running), so nothing is known to have run.
    /// </summary>
    public StretchPaths Paths(int from, IReadOnlyCollection<int>? to, IReadOnlyCollection<int> barriers, bool withExceptions)
    {
        var n = _starts.Length;
        var blocked = new bool[n];
        foreach (var b in barriers)
        {
            if (IndexOf(b) is { } i && i != IndexOf(from))
                blocked[i] = true;
        }
        var successors = new List<int>[n];
        for (var b = 0; b < n; b++)
            successors[b] = blocked[b] ? [] : [.. _next[b].Where(s => !blocked[s]), .. withExceptions ? _onThrow[b].Where(s => !blocked[s]) : []];
        var reached = new bool[n];
        if (IndexOf(from) is { } entry)
            Visit(entry, successors, reached);
        if (to is null)
            return new StretchPaths(this, successors, IndexOf(from) ?? 0, reached, new bool[n], []);
        var ends = to.Count == 0
            ? Enumerable.Range(0, n).Where(b => _exits[b] && reached[b]).ToArray()
            : to.Select(IndexOf).OfType<int>().Where(b => reached[b]).ToArray();
        var predecessors = new List<int>[n];
        for (var b = 0; b < n; b++)
            predecessors[b] = [];
        for (var b = 0; b < n; b++)
        {
            if (reached[b])
            {
                foreach (var s in successors[b])
                    predecessors[s].Add(b);
            }
        }
        var onPath = new bool[n];
        foreach (var e in ends)
            Visit(e, predecessors, onPath);
        for (var b = 0; b < n; b++)
            onPath[b] &= reached[b];
        return new StretchPaths(this, successors, IndexOf(from) ?? 0, onPath, Dominators(IndexOf(from) ?? 0, ends, successors, predecessors, onPath), ends);
    }

    internal int? IndexOf(int offset)
    {
        if (offset < 0 || _starts.Length == 0 || offset < _starts[0])
            return null;
        var i = Array.BinarySearch(_starts, offset);
        return i >= 0 ? i : ~i - 1;
    }

    // Blocks on every path from the entry to an end, among those on some path: the dominators of every end, from
    // immediate dominators (Cooper, Harvey and Kennedy's iterative algorithm over reverse postorder).
    private static bool[] Dominators(int entry, int[] ends, List<int>[] successors, List<int>[] predecessors, bool[] onPath)
    {
        var n = onPath.Length;
        var result = new bool[n];
        if (ends.Length == 0 || !onPath[entry])
            return result;
        var order = ReversePostorder(entry, successors, onPath);
        var rank = new int[n];
        Array.Fill(rank, -1);
        for (var i = 0; i < order.Count; i++)
            rank[order[i]] = i;
        var idom = new int[n];
        Array.Fill(idom, -1);
        idom[entry] = entry;
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var b in order)
            {
                if (b == entry)
                    continue;
                var next = -1;
                foreach (var p in predecessors[b])
                {
                    if (rank[p] < 0 || idom[p] < 0)
                        continue;
                    next = next < 0 ? p : Intersect(p, next, idom, rank);
                }
                if (next >= 0 && idom[b] != next)
                {
                    idom[b] = next;
                    changed = true;
                }
            }
        }
        var hits = new int[n];
        foreach (var e in ends)
        {
            for (var b = e; idom[b] >= 0; b = idom[b])
            {
                hits[b]++;
                if (b == entry)
                    break;
            }
        }
        for (var b = 0; b < n; b++)
            result[b] = hits[b] == ends.Length;
        return result;
    }

    private static int Intersect(int a, int b, int[] idom, int[] rank)
    {
        while (a != b)
        {
            while (rank[a] > rank[b])
                a = idom[a];
            while (rank[b] > rank[a])
                b = idom[b];
        }
        return a;
    }

    private static List<int> ReversePostorder(int entry, List<int>[] successors, bool[] onPath)
    {
        var post = new List<int>();
        var seen = new bool[onPath.Length];
        var stack = new Stack<(int Block, int Next)>();
        stack.Push((entry, 0));
        seen[entry] = true;
        while (stack.Count > 0)
        {
            var (b, i) = stack.Pop();
            if (i < successors[b].Count)
            {
                stack.Push((b, i + 1));
                var s = successors[b][i];
                if (onPath[s] && !seen[s])
                {
                    seen[s] = true;
                    stack.Push((s, 0));
                }
            }
            else
                post.Add(b);
        }
        post.Reverse();
        return post;
    }

    private static void Visit(int start, List<int>[] edges, bool[] seen)
    {
        var stack = new Stack<int>();
        stack.Push(start);
        while (stack.Count > 0)
        {
            var b = stack.Pop();
            if (seen[b])
                continue;
            seen[b] = true;
            foreach (var s in edges[b])
                stack.Push(s);
        }
    }

    private static int BlockAt(int[] starts, int offset)
    {
        var i = Array.BinarySearch(starts, offset);
        return i >= 0 ? i : Math.Max(0, ~i - 1);
    }

    // A leave out of a try that has a finally runs that finally first (the innermost one it crosses).
    private static int? FinallyOnTheWay(IReadOnlyList<IlClause> clauses, int leave, int target) =>
        clauses.Where(c => c.Kind == ExceptionHandlingClauseOptions.Finally && Inside(c, leave) && !Inside(c, target))
            .OrderBy(c => c.TryEnd - c.TryStart).Select(c => (int?)c.HandlerStart).FirstOrDefault();

    // Where each finally goes when it ends: the next finally out, or the target of a leave that crossed it.
    private static Dictionary<int, List<int>> FinallyExits(IReadOnlyList<IlInstruction> code, IReadOnlyList<IlClause> clauses)
    {
        var exits = new Dictionary<int, List<int>>();
        foreach (var leave in code.Where(i => i.OpCode.Value == OpCodes.Leave.Value || i.OpCode.Value == OpCodes.Leave_S.Value))
        {
            var crossed = clauses.Where(c => c.Kind == ExceptionHandlingClauseOptions.Finally && Inside(c, leave.Offset) && !Inside(c, leave.Targets[0]))
                .OrderBy(c => c.TryEnd - c.TryStart).ToList();
            for (var i = 0; i < crossed.Count; i++)
            {
                if (!exits.TryGetValue(crossed[i].HandlerStart, out var list))
                    exits[crossed[i].HandlerStart] = list = [];
                list.Add(i + 1 < crossed.Count ? crossed[i + 1].HandlerStart : leave.Targets[0]);
            }
        }
        return exits;
    }

    private static int Handler(IReadOnlyList<IlClause> clauses, int offset) =>
        clauses.Where(c => offset >= c.HandlerStart && offset < c.HandlerEnd).OrderBy(c => c.HandlerEnd - c.HandlerStart).Select(c => c.HandlerStart).FirstOrDefault(-1);

    private static bool Inside(IlClause c, int offset) => offset >= c.TryStart && offset < c.TryEnd;
}

/// <summary>
/// The code between two offsets of a method, as far as its flow tells: each IL offset ran for certain (it lies on
/// every path from one to the other), may have run (on some path), or could not have.
/// </summary>
internal sealed class StretchPaths(ControlFlow flow, List<int>[] successors, int entry, bool[] onPath, bool[] certain, int[] ends)
{
    /// <summary>True when <paramref name="offset"/> lies on some path of the stretch.</summary>
    public bool MayHaveRun(int offset) => flow.IndexOf(offset) is { } b && onPath[b];

    /// <summary>True when <paramref name="offset"/> lies on every path of the stretch: it ran.</summary>
    public bool Ran(int offset) => flow.IndexOf(offset) is { } b && certain[b];

    /// <summary>
    /// True when <paramref name="offset"/> may have run more than once in the stretch: a path of it leads back to it (a
    /// loop the stretch may have gone round, its awaits completing at once).
    /// </summary>
    public bool MayRunAgain(int offset) => flow.IndexOf(offset) is { } b && onPath[b] && successors[b].Any(s => Reaches(s, [b], -1));

    /// <summary>
    /// The same stretch, knowing also that <paramref name="offset"/> ran (a task its call created was seen): what
    /// lies on every path from the start to it, and on every path from it to the end, ran too.
    /// </summary>
    public StretchPaths Knowing(int offset)
    {
        if (flow.IndexOf(offset) is not { } known || !onPath[known] || certain[known])
            return this;
        var ran = (bool[])certain.Clone();
        for (var b = 0; b < onPath.Length; b++)
            ran[b] |= onPath[b] && (b == known || !Reaches(entry, [known], b) || !Reaches(known, ends, b));
        return new StretchPaths(flow, successors, entry, onPath, ran, ends);
    }

    // Whether `from` reaches one of `targets` along the stretch's paths without passing through `removed`.
    private bool Reaches(int from, int[] targets, int removed)
    {
        var seen = new bool[onPath.Length];
        var stack = new Stack<int>();
        stack.Push(from);
        while (stack.Count > 0)
        {
            var b = stack.Pop();
            if (seen[b] || b == removed || !onPath[b])
                continue;
            if (targets.Contains(b))
                return true;
            seen[b] = true;
            foreach (var s in successors[b])
                stack.Push(s);
        }
        return false;
    }
}

/// <summary>An exception clause as IL offsets (ends exclusive); <see cref="FilterStart"/> -1 unless a filter.</summary>
internal readonly record struct IlClause(ExceptionHandlingClauseOptions Kind, int TryStart, int TryEnd, int HandlerStart, int HandlerEnd, int FilterStart = -1);
