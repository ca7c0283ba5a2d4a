using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Symbols;

namespace AsyncLens.Inventory;

/// <summary>How a node reads in a dump: its title, the line it is parked on, and a note on its state.</summary>
internal readonly record struct NodeText(string Title, SourceLine? At, string? Note)
{
    public override string ToString()
    {
        var text = At is null ? Title : $"{Title} at {At.File}:{At.Line.ToString(CultureInfo.InvariantCulture)}";
        return Note is null ? text : $"{text} ({Note})";
    }
}

/// <summary>
/// Node texts for one snapshot. An async method's text depends only on its method and the await it is
/// parked at, so 100,000 requests parked at one await share one text (and one line string).
/// </summary>
internal sealed class NodeTextCache
{
    private readonly Dictionary<(BoxInfo, int), (NodeText Text, string Line)> _methods = [];
    private readonly Dictionary<NodeText, string> _described = [];

    public NodeText Of(TaskNode node) => node.Kind == NodeKind.AsyncMethod && node.Description is null ? Method(node).Text : NodeTexts.Of(node);

    /// <summary>The text as a line: with what a thread or a cycle does to it.</summary>
    public string Line(TaskNode node)
    {
        var line = node.Description is { } described ? Described(described)
            : node.Kind == NodeKind.AsyncMethod ? Method(node).Line
            : NodeTexts.Of(node).ToString();
        return node.BlockedThreadWaits || node.InCycle
            ? line + (node.BlockedThreadWaits ? " <- a thread is blocked waiting for it" : "") + (node.InCycle ? " <- in an await cycle: a deadlock" : "")
            : line;
    }

    private string Described(NodeText text)
    {
        if (!_described.TryGetValue(text, out var line))
            _described[text] = line = text.ToString();
        return line;
    }

    private (NodeText Text, string Line) Method(TaskNode node)
    {
        var key = (node.Box!, node.State);
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

    public static NodeText Of(TaskNode node)
    {
        if (node.Description is { } described)
            return described;
        switch (node.Kind)
        {
            case NodeKind.AsyncMethod:
                var symbols = node.Box!.Symbols;
                var at = node.State >= 0 && symbols.AwaitLocation(node.State) is { } l ? new SourceLine(l.File, l.Line) : null;
                return new NodeText(symbols.Name, at, Note(node));
            case NodeKind.DelegateTask:
                return new NodeText(node.Label ?? "Task.Run", DelegateLine(node.DelegateMethod), node.Target is Task { Status: TaskStatus.Running } ? "running" : "queued");
            case NodeKind.Combinator:
                return new NodeText(CombinatorTitle(node), null, null);
            default:
                return new NodeText(node.Label ?? "(unknown)", null, null);
        }
    }

    private static SourceLine? DelegateLine(MethodInfo? method) =>
        method is null ? null : s_delegateLines.GetOrAdd(method, static m => MethodSymbols.LineAt(m, 0) is { } l ? new SourceLine(l.File, l.Line) : null);

    public static string KindOf(TaskNode node) => node.KindName ?? node.Kind switch
    {
        NodeKind.AsyncMethod when node.IsIterator => "async-iterator",
        NodeKind.AsyncMethod when node.Target is not Task => "pooled-async-method",
        NodeKind.AsyncMethod => "async-method",
        NodeKind.DelegateTask => "delegate-task",
        NodeKind.Combinator => "combinator",
        _ => "awaited",
    };

    public static string StateOf(TaskNode node) => node.StateName ?? node.Kind switch
    {
        NodeKind.AsyncMethod when node.State == -1 => "running",
        NodeKind.AsyncMethod when node.State >= 0 => "parked",
        NodeKind.AsyncMethod when node.IsIterator => "paused",
        NodeKind.AsyncMethod => "pending",
        NodeKind.DelegateTask => node.Target is Task { Status: TaskStatus.Running } ? "running" : "queued",
        _ => "pending",
    };

    private static string? Note(TaskNode node) => node.State switch
    {
        -1 => "running",
        >= 0 when node.AwaitsYield => "awaiting Task.Yield",
        < -2 when node.IsIterator => "paused at yield return",
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
