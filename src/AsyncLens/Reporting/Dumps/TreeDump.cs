using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// The <c>tree</c> dump, like Python 3.14's <c>asyncio pstree</c>: each root (async work nothing awaits)
/// first, and under every node what it awaits. Identical subtrees are printed once with <c>xN</c>. Walked
/// with a stack of its own, and cut at a depth and a length a person can read.
/// </summary>
internal static class TreeDump
{
    private const int MaxLines = 20_000;
    private const int MaxDepth = 64;

    public static void Write(TextWriter writer, TaskGraph graph, DumpHeader header)
    {
        var subtrees = new Subtrees();
        var groups = subtrees.Group(graph.Roots);
        writer.Write(header.Line(graph, groups.Count, "tree") + "\n");
        var lines = 0;
        foreach (var (root, count) in groups)
        {
            writer.Write("\n");
            writer.Write(subtrees.Line(root) + Times(count) + "\n");
            if (!WriteChildren(writer, subtrees, root, ref lines))
                return;
        }
    }

    /// <summary>One node and what it awaits, drawn as in the tree, every line after <paramref name="indent"/> (the console's <c>requests</c>).</summary>
    public static void WriteSubtree(TextWriter writer, TaskNode root, string indent)
    {
        var subtrees = new Subtrees();
        var lines = 0;
        writer.Write(indent + subtrees.Line(root) + "\n");
        WriteChildren(writer, subtrees, root, ref lines, indent);
    }

    // Depth first; false once the line budget is spent.
    private static bool WriteChildren(TextWriter writer, Subtrees subtrees, TaskNode root, ref int lines, string margin = "")
    {
        var onPath = new List<TaskNode> { root };
        var work = new Stack<Level>();
        work.Push(new Level(subtrees.Group(root.Awaits), margin));
        while (work.Count > 0)
        {
            var level = work.Peek();
            if (level.Next == level.Groups.Count)
            {
                work.Pop();
                onPath.RemoveAt(onPath.Count - 1);
                continue;
            }
            var (child, count) = level.Groups[level.Next++];
            var last = level.Next == level.Groups.Count;
            var branch = level.Indent + (last ? "└── " : "├── ");
            if (++lines > MaxLines)
            {
                writer.Write(level.Indent + "... (more than 20,000 lines: see the stacks or json dump)\n");
                return false;
            }
            if (onPath.Contains(child, ReferenceEqualityComparer.Instance))
            {
                writer.Write(branch + "(back to " + subtrees.Text(child).Title + ": an await cycle)\n");
                continue;
            }
            writer.Write(branch + subtrees.Line(child) + Times(count) + "\n");
            if (child.Awaits.Count == 0)
                continue;
            var indent = level.Indent + (last ? "    " : "│   ");
            if (work.Count >= MaxDepth)
            {
                writer.Write(indent + "└── ... (awaits more than 64 deep: see the stacks dump)\n");
                lines++;
                continue;
            }
            onPath.Add(child);
            work.Push(new Level(subtrees.Group(child.Awaits), indent));
        }
        return true;
    }

    private static string Times(int count) => count > 1 ? " x" + count.ToString(CultureInfo.InvariantCulture) : "";

    private sealed class Level(List<(TaskNode First, int Count)> groups, string indent)
    {
        public List<(TaskNode First, int Count)> Groups { get; } = groups;

        public string Indent { get; } = indent;

        public int Next { get; set; }
    }
}
