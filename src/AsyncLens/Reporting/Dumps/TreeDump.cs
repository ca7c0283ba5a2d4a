using System.Globalization;
using AsyncLens.Inventory;

namespace AsyncLens.Reporting.Dumps;

/// <summary>
/// The <c>tree</c> dump, like Python 3.14's <c>asyncio pstree</c>: each root (async work nothing awaits)
/// first, and under every node what it awaits. Identical subtrees are printed once with <c>xN</c>.
/// </summary>
internal static class TreeDump
{
    private const int MaxLines = 20_000;

    public static void Write(TextWriter writer, TaskGraph graph, DumpHeader header)
    {
        var subtrees = new Subtrees();
        var groups = subtrees.Group(graph.Roots);
        writer.Write(header.Line(graph, string.Create(CultureInfo.InvariantCulture, $" in {groups.Count} trees")) + "\n");
        var lines = 0;
        foreach (var (root, count, _) in groups)
        {
            writer.Write("\n");
            writer.Write(subtrees.Line(root) + Times(count) + "\n");
            var onPath = new HashSet<TaskNode>(ReferenceEqualityComparer.Instance) { root };
            WriteChildren(writer, subtrees, root, "", onPath, ref lines);
        }
    }

    private static void WriteChildren(TextWriter writer, Subtrees subtrees, TaskNode node, string indent, HashSet<TaskNode> onPath, ref int lines)
    {
        var groups = subtrees.Group(node.Awaits);
        for (var i = 0; i < groups.Count; i++)
        {
            if (++lines > MaxLines)
            {
                if (lines == MaxLines + 1)
                    writer.Write(indent + "... (more than 20,000 lines: see the stacks or json dump)\n");
                return;
            }
            var (child, count, _) = groups[i];
            var last = i == groups.Count - 1;
            if (onPath.Contains(child))
            {
                writer.Write(indent + (last ? "└── " : "├── ") + "(back to " + subtrees.Text(child).Title + ": an await cycle)\n");
                continue;
            }
            writer.Write(indent + (last ? "└── " : "├── ") + subtrees.Line(child) + Times(count) + "\n");
            onPath.Add(child);
            WriteChildren(writer, subtrees, child, indent + (last ? "    " : "│   "), onPath, ref lines);
            onPath.Remove(child);
        }
    }

    private static string Times(int count) => count > 1 ? " x" + count.ToString(CultureInfo.InvariantCulture) : "";
}
