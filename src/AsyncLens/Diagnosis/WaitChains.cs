using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Diagnosis;

/// <summary>
/// What a task waits for, followed down its awaits: the async stack from the task to what it is parked on, the
/// innermost of the user's methods in it (the first with a line, from the bottom) and what that one awaits.
/// </summary>
internal sealed record WaitChain(IReadOnlyList<TaskNode> Nodes, TaskNode? Innermost, string? On)
{
    private const int MaxDepth = 256;

    public static WaitChain From(TaskNode task)
    {
        var nodes = new List<TaskNode> { task };
        var seen = new HashSet<TaskNode> { task };
        var node = task;
        while (nodes.Count < MaxDepth && Next(node) is { } next && seen.Add(next))
        {
            nodes.Add(next);
            node = next;
        }
        var innermost = nodes.FindLastIndex(n => NodeTexts.Of(n).At is not null);
        TaskNode? user = innermost >= 0 ? nodes[innermost] : null;
        string? on = null;
        if (innermost >= 0 && innermost + 1 < nodes.Count)
            on = Short(NodeTexts.Of(nodes[innermost + 1]).Title);
        else if (user?.Awaits.Count > 0)
            on = Short(NodeTexts.Of(user.Awaits[0]).Title);
        return new WaitChain(nodes, user, on);
    }

    // A framework method's long parameter list says little in a sentence: `HttpClient.SendAsync+Core(...)`.
    public static string Short(string title) => title.Length > 60 && title.IndexOf('(', StringComparison.Ordinal) is var open and > 0 ? title[..open] + "(...)" : title;

    // The next node down: what it awaits, code before promises (a method awaiting another method, not its timer).
    private static TaskNode? Next(TaskNode node)
    {
        TaskNode? first = null;
        foreach (var child in node.Awaits)
        {
            if (child.IsCode)
                return child;
            first ??= child;
        }
        return first;
    }

    /// <summary><c>`Shop.Charge()`, parked at /src/Shop.cs:17 on Task.Delay</c>; the task's own name when none of the user's code is in it.</summary>
    public string Describe()
    {
        if (Innermost is null)
            return $"`{NodeTexts.Of(Nodes[0]).Title}`";
        var text = NodeTexts.Of(Innermost);
        var state = text.Note == "running" ? " (running)" : text.Note == NodeTexts.Resuming ? $", resuming after {Doctor.At(text.At)}" : $", parked at {Doctor.At(text.At)}";
        return $"`{text.Title}`{state}{(On is null || text.Note is "running" ? "" : " on " + On)}";
    }

    /// <summary>The async stack, outermost first, one line each, indented.</summary>
    public IEnumerable<string> Lines(string indent)
    {
        foreach (var node in Nodes)
            yield return indent + NodeTexts.Of(node);
    }

    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
