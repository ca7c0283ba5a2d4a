using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;

namespace AsyncLens.Inventory;

/// <summary>How a node reads in a dump: its title, the line it is parked on, and a note on its state.</summary>
internal readonly record struct NodeText(string Title, SourceLine? At, string? Note)
{
    public override string ToString()
    {
        var title = MethodNames.Compact(Title);
        var text = At is null ? title : $"{title} at {At.File}:{At.Line.ToString(CultureInfo.InvariantCulture)}";
        return Note is null ? text : $"{text} ({Note})";
    }
}

/// <summary>
/// Node texts for one snapshot. An async method's text depends only on its method and the await it is
/// parked at, so 100,000 requests parked at one await share one text (and one line string).
/// </summary>
internal sealed class NodeTextCache
{
    private readonly Dictionary<(BoxInfo, int, bool), (NodeText Text, string Line)> _methods = [];
    private readonly Dictionary<NodeText, string> _described = [];

    public NodeText Of(TaskNode node) => node.Kind == NodeKind.AsyncMethod && node.Description is null ? Method(node).Text : NodeTexts.Of(node);

    /// <summary>The text as a line: with who else waits for it (<see cref="NodeTexts.Marks"/>).</summary>
    public string Line(TaskNode node)
    {
        var line = node.Description is { } described ? Described(described)
            : node.Kind == NodeKind.AsyncMethod ? Method(node).Line
            : NodeTexts.Of(node).ToString();
        return line + NodeTexts.Marks(node);
    }

    private string Described(NodeText text)
    {
        if (!_described.TryGetValue(text, out var line))
            _described[text] = line = text.ToString();
        return line;
    }

    private (NodeText Text, string Line) Method(TaskNode node)
    {
        var key = (node.Box!, node.State, node.Resuming);
        if (!_methods.TryGetValue(key, out var entry))
        {
            var text = NodeTexts.Of(node);
            _methods[key] = entry = (text, text.ToString());
        }
        return entry;
    }
}

internal static class NodeTexts
{
    // The line a Task.Run / ContinueWith delegate starts at: where the work it runs was written.
    private static readonly ConcurrentDictionary<MethodInfo, SourceLine?> s_delegateLines = new();

    // A runtime-async frame's text depends only on its method and the IL offset of its await.
    private static readonly ConcurrentDictionary<(MethodBase, int), NodeText> s_frames = new();

    /// <summary>
    /// A suspended method of a runtime-async chain: its name as written and the line of its await, where a PDB gives
    /// it; <see cref="Resuming"/> when what it awaits has just completed.
    /// </summary>
    public static NodeText Frame(RuntimeAsyncFrame frame, bool resuming)
    {
        var text = s_frames.GetOrAdd((frame.Method, frame.ILOffset), static key =>
            new NodeText(MethodNames.Format(key.Item1), MethodSymbols.LineAt(key.Item1, key.Item2) is { } l ? new SourceLine(l.File, l.Line) : null, null));
        // A shared generic method's instantiation, where its held objects told it (a name per instantiation, cached).
        if (frame.Generics != default)
            text = text with { Title = s_generic.GetOrAdd((frame.Method, Key(frame.Generics.TypeArguments), Key(frame.Generics.MethodArguments)), static (_, f) => MethodNames.Format(f.Method, f.Generics), frame) };
        return resuming ? text with { Note = Resuming } : text;
    }

    private static readonly ConcurrentDictionary<(MethodBase, string, string), string> s_generic = new();

    private static string Key(Type[]? types) => types is null ? "" : string.Join(',', types.Select(t => t.IsGenericParameter ? "!" + t.GenericParameterPosition : t.TypeHandle.Value.ToString()));

    /// <summary>A runtime-async chain its dispatcher runs now (its frames are on a thread's stack, not in the chain).</summary>
    public static readonly NodeText RunningChain = new("(runtime-async call)", null, "running");

    public static NodeText Of(TaskNode node)
    {
        if (node.Description is { } described)
            return described;
        switch (node.Kind)
        {
            case NodeKind.AsyncMethod:
                var symbols = node.Box!.Symbols;
                var at = AsyncState.IsParked(node.State) && symbols.AwaitLocation(node.State) is { } l ? new SourceLine(l.File, l.Line) : null;
                return new NodeText(symbols.Name, at, Note(node));
            case NodeKind.DelegateTask:
                return new NodeText(node.Label ?? "Task.Run", DelegateLine(node.DelegateMethod), DelegateNote(StateOf(node)));
            case NodeKind.Combinator:
                return new NodeText(CombinatorTitle(node), null, null);
            default:
                return new NodeText(node.Label ?? "(unknown)", null, null);
        }
    }

    /// <summary>The line a delegate's method starts at (a Task.Run body, a timer callback).</summary>
    public static SourceLine? DelegateLine(MethodInfo? method) =>
        method is null ? null : s_delegateLines.GetOrAdd(method, static m => MethodSymbols.LineAt(m, 0) is { } l ? new SourceLine(l.File, l.Line) : null);

    /// <summary>
    /// What the line of a node adds about who waits for it: <c> &lt;- one task awaited by 20</c> (a task awaited by
    /// several is printed under each of them, or once under their group, and is still one task),
    /// <c>a thread is blocked waiting for it</c>, <c>in an await cycle: a deadlock</c>. Empty for most.
    /// </summary>
    public static string Marks(TaskNode node)
    {
        var shared = node.AwaitedBy.Count > 1;
        if (!shared && !node.BlockedThreadWaits && !node.InCycle)
            return "";
        var marks = new List<string>(3);
        if (shared)
            marks.Add(Shared(node.AwaitedBy.Count));
        if (node.BlockedThreadWaits)
            marks.Add("a thread is blocked waiting for it");
        if (node.InCycle)
            marks.Add("in an await cycle: a deadlock");
        return " <- " + string.Join("; ", marks);
    }

    /// <summary>The note of a method parked on a task that has just completed (its continuation is about to run).</summary>
    public const string Resuming = "resuming";

    /// <summary>The title of a <c>SemaphoreSlim.WaitAsync</c> waiter's node.</summary>
    public const string SemaphoreWait = "SemaphoreSlim.WaitAsync";

    /// <summary>"one task awaited by 20".</summary>
    public static string Shared(int awaiters) => string.Create(CultureInfo.InvariantCulture, $"one task awaited by {awaiters}");

    public static string KindOf(TaskNode node) => node.KindName ?? node.Kind switch
    {
        NodeKind.AsyncMethod when node.IsIterator => "async-iterator",
        NodeKind.AsyncMethod when node.Target is not Task => "pooled-async-method",
        NodeKind.AsyncMethod => "async-method",
        NodeKind.DelegateTask => "delegate-task",
        NodeKind.Combinator => "combinator",
        NodeKind.Thread => "thread",
        _ => "awaited",
    };

    public static string StateOf(TaskNode node) => node.StateName ?? node.Kind switch
    {
        NodeKind.AsyncMethod when node.State == AsyncState.Running => "running",
        NodeKind.AsyncMethod when AsyncState.IsParked(node.State) => "parked",
        NodeKind.AsyncMethod when node.IsIterator => "paused",
        NodeKind.AsyncMethod => "pending",
        NodeKind.DelegateTask => node.Target switch
        {
            Task { Status: TaskStatus.Running } => "running",
            Task { Status: TaskStatus.WaitingForActivation } => "waiting", // a ContinueWith task whose antecedent is pending
            Task { Status: TaskStatus.Created } => NotStarted,
            _ => "queued",
        },
        NodeKind.Thread => "blocked",
        _ => "pending",
    };

    /// <summary>A delegate task's note: <c>running</c>, <c>queued</c>, or (ContinueWith) <c>waiting for the task it continues</c>.</summary>
    /// <summary>A delegate task created with <c>new Task(...)</c> and not started: nothing runs it until something calls Start.</summary>
    public const string NotStarted = "not started";

    public static string DelegateNote(string state) => state == "waiting" ? "waiting for the task it continues" : state;

    private static string? Note(TaskNode node) => node.State switch
    {
        AsyncState.Running => "running",
        var s when AsyncState.IsParked(s) && node.Resuming => Resuming,
        var s when AsyncState.IsParked(s) && node.AwaitsYield => "awaiting Task.Yield",
        var s when AsyncState.IsPausedIterator(s) && node.IsIterator => "paused at yield return",
        _ => null,
    };

    private static string CombinatorTitle(TaskNode node)
    {
        var title = node.Label ?? "(combinator)";
        if (node.TotalCount is { } total)
            title += $" of {total.ToString(CultureInfo.InvariantCulture)}";
        var pending = node.PendingCount ?? node.Awaits.Count;
        return node.Label == "Task.Run" ? title : $"{title} ({pending.ToString(CultureInfo.InvariantCulture)} pending)";
    }
}
