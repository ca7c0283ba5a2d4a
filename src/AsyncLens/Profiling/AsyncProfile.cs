using AsyncLens.Profiling;

namespace AsyncLens;

/// <summary>
/// What <see cref="AsyncProfiler.Stop"/> returns: time per async method and the async call graph (who awaited
/// whom) over the profiled stretch. <see cref="Write(TextWriter, AsyncProfileFormat)"/> turns it into a table, callgrind or speedscope JSON.
/// docs/profiler.md describes the figures.
/// </summary>
public sealed class AsyncProfile
{
    internal AsyncProfile(TimeSpan duration, IReadOnlyList<AsyncMethodProfile> methods, IReadOnlyList<AsyncCallProfile> calls, CallNode root, OutsideFigures outside, bool fromAsyncEvents)
    {
        FromAsyncEvents = fromAsyncEvents;
        Duration = duration;
        Methods = methods;
        Calls = calls;
        Root = root;
        Outside = outside;
    }

    /// <summary>How long the profiler ran.</summary>
    public TimeSpan Duration { get; }

    /// <summary>One entry per async method (and Task.Run delegate), by inclusive wall time, longest first.</summary>
    public IReadOnlyList<AsyncMethodProfile> Methods { get; }

    /// <summary>Caller → callee edges of the async call graph: the callee was awaited by (or created in a step of) the caller.</summary>
    public IReadOnlyList<AsyncCallProfile> Calls { get; }

    internal CallNode Root { get; }

    /// <summary>Measured from .NET 11's async events (<c>ASYNCLENS_STEP_SOURCE</c>), not the TPL events: the table says so.</summary>
    internal bool FromAsyncEvents { get; }

    /// <summary>Folded code with no listed method above it (its calls are in no row).</summary>
    internal OutsideFigures Outside { get; }

    /// <summary>
    /// Writes the profile: <c>text</c> (a sorted table, fitted to the terminal when written to the console's, else to
    /// 120 columns), <c>callgrind</c> (callgrind_annotate, KCachegrind) or <c>speedscope</c> (JSON).
    /// </summary>
    public void Write(TextWriter writer, AsyncProfileFormat format)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Write(writer, format, ProfileTable.WidthFor(writer));
    }

    internal void Write(TextWriter writer, AsyncProfileFormat format, int width)
    {
        switch (format)
        {
            case AsyncProfileFormat.Callgrind:
                ProfileFormats.WriteCallgrind(writer, this);
                break;
            case AsyncProfileFormat.Speedscope:
                ProfileFormats.WriteSpeedscope(writer, this);
                break;
            default:
                ProfileTable.Write(writer, this, width);
                break;
        }
        writer.Flush();
    }

    internal static AsyncProfile From(CallNode root, TimeSpan duration, OutsideFigures outside, bool fromAsyncEvents = false)
    {
        var methods = new Dictionary<ProfiledMethod, AsyncMethodProfile>();
        var calls = new Dictionary<(ProfiledMethod, ProfiledMethod), AsyncCallProfile>();
        var inclusive = new Dictionary<CallNode, long>();
        Inclusive(root, inclusive);
        var stack = new Stack<CallNode>(root.Children);
        // A recursive method is counted once per path it is on, not once per level, for its inclusive times.
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            var method = node.Method!;
            var outermost = !OnPathAbove(node, method);
            var m = methods.TryGetValue(method, out var known) ? known : methods[method] = new AsyncMethodProfile(method);
            m.Calls += node.Calls;
            m.Pending += node.Pending;
            m.StartedBefore += node.StartedBefore;
            m.OnThreadTicks += node.OnThread;
            m.SelfWallTicks += node.SelfWall;
            if (outermost)
            {
                m.WallTicks += node.Wall;
                m.InclusiveOnThreadTicks += inclusive[node];
            }
            if (node.Parent?.Method is { } caller)
            {
                var call = calls.TryGetValue((caller, method), out var c) ? c : calls[(caller, method)] = new AsyncCallProfile(caller, method);
                call.Calls += node.Calls + node.Pending;
                call.WallTicks += node.Wall;
                call.OnThreadTicks += inclusive[node];
            }
            foreach (var child in node.Children)
                stack.Push(child);
        }
        return new AsyncProfile(duration,
            [.. methods.Values.OrderByDescending(m => m.Wall).ThenBy(m => m.Method, StringComparer.Ordinal)],
            [.. calls.Values.OrderByDescending(c => c.Wall).ThenBy(c => c.Caller, StringComparer.Ordinal).ThenBy(c => c.Callee, StringComparer.Ordinal)],
            root, outside, fromAsyncEvents);
    }

    private static bool OnPathAbove(CallNode node, ProfiledMethod method)
    {
        for (var up = node.Parent; up?.Method is not null; up = up.Parent)
        {
            if (up.Method == method)
                return true;
        }
        return false;
    }

    // On-thread time of a node and everything under it.
    private static long Inclusive(CallNode node, Dictionary<CallNode, long> into)
    {
        var total = node.OnThread;
        foreach (var child in node.Children)
            total += Inclusive(child, into);
        into[node] = total;
        return total;
    }
}

/// <summary>The figures of one async method over the profile.</summary>
public sealed class AsyncMethodProfile
{
    internal AsyncMethodProfile(ProfiledMethod method) => Source = method;

    internal ProfiledMethod Source { get; }

    /// <summary>The method as written: <c>Shop.FetchUser(int)</c>; a delegate task is <c>Task.Run(...)</c>.</summary>
    public string Method => Source.Name;

    /// <summary>The source file of its first line (from the PDB), or null.</summary>
    public string? File => Source.File;

    /// <summary>Its first line (the opening brace), or 0 when unknown.</summary>
    public int Line => Source.Line;

    /// <summary>Calls that completed during the profile.</summary>
    public int Calls { get; internal set; }

    /// <summary>Calls still pending when the profile stopped (their times run up to the stop).</summary>
    public int Pending { get; internal set; }

    /// <summary>Calls that had started before the profiler (their times run from its start).</summary>
    public int StartedBefore { get; internal set; }

    internal long WallTicks;
    internal long SelfWallTicks;
    internal long OnThreadTicks;
    internal long InclusiveOnThreadTicks;

    /// <summary>Wall time, start to completion, summed over calls (a recursive call inside another counts once).</summary>
    public TimeSpan Wall => TimeSpan.FromTicks(WallTicks);

    /// <summary>Wall time not spent waiting for the async methods it called (its own steps, and what it awaited that is not a method: delays, I/O).</summary>
    public TimeSpan SelfWall => TimeSpan.FromTicks(SelfWallTicks);

    /// <summary>Own on-thread time: the sum of its steps (nested steps of others excluded).</summary>
    public TimeSpan OnThread => TimeSpan.FromTicks(OnThreadTicks);

    /// <summary>On-thread time of it and of every async method it called, however deep.</summary>
    public TimeSpan InclusiveOnThread => TimeSpan.FromTicks(InclusiveOnThreadTicks);

    /// <summary>Wall time not on a thread: <see cref="Wall"/> less <see cref="InclusiveOnThread"/>.</summary>
    public TimeSpan Awaiting => TimeSpan.FromTicks(Math.Max(0, WallTicks - InclusiveOnThreadTicks));
}

/// <summary>One edge of the async call graph.</summary>
public sealed class AsyncCallProfile
{
    internal AsyncCallProfile(ProfiledMethod caller, ProfiledMethod callee)
    {
        CallerSource = caller;
        CalleeSource = callee;
    }

    internal ProfiledMethod CallerSource { get; }

    internal ProfiledMethod CalleeSource { get; }

    /// <summary>The awaiting method.</summary>
    public string Caller => CallerSource.Name;

    /// <summary>The awaited method.</summary>
    public string Callee => CalleeSource.Name;

    /// <summary>How many calls (pending ones included).</summary>
    public int Calls { get; internal set; }

    internal long WallTicks;
    internal long OnThreadTicks;

    /// <summary>The callee's wall time under this caller.</summary>
    public TimeSpan Wall => TimeSpan.FromTicks(WallTicks);

    /// <summary>The callee's inclusive on-thread time under this caller.</summary>
    public TimeSpan OnThread => TimeSpan.FromTicks(OnThreadTicks);
}

/// <summary>How <see cref="AsyncProfile.Write(TextWriter, AsyncProfileFormat)"/> writes a profile.</summary>
public enum AsyncProfileFormat
{
    /// <summary>A table sorted by wall time, then the call graph.</summary>
    Text,

    /// <summary>The callgrind format of valgrind, for callgrind_annotate and KCachegrind (events Wall and OnThread, in microseconds).</summary>
    Callgrind,

    /// <summary>speedscope's JSON file format: two sampled profiles (wall, on-thread) over the async call tree.</summary>
    Speedscope,
}
