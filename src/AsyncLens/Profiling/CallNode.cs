using AsyncLens.Symbols;

namespace AsyncLens.Profiling;

/// <summary>
/// One node of the async call tree: a method reached through one path of callers. Keyed by what runs in it
/// (<see cref="MethodKey"/>) while profiling; its <see cref="Method"/> (name, line) is resolved when the profile stops.
/// </summary>
internal sealed class CallNode(MethodKey? key, CallNode? parent)
{
    private Dictionary<MethodKey, CallNode>? _children;

    public MethodKey? Key { get; } = key;

    public ProfiledMethod? Method { get; set; }

    public CallNode? Parent { get; } = parent;

    /// <summary>Methods on its path: 0 at the root.</summary>
    public int Depth { get; } = parent is null ? 0 : parent.Depth + 1;

    public IEnumerable<CallNode> Children => _children?.Values ?? Enumerable.Empty<CallNode>();

    public int Calls;
    public int Pending;
    public int StartedBefore;
    public long Wall;
    public long SelfWall;
    public long OnThread;

    public CallNode Child(MethodKey key)
    {
        _children ??= [];
        if (!_children.TryGetValue(key, out var child))
            _children[key] = child = new CallNode(key, this);
        return child;
    }

    /// <summary>Names every node below this one (once the profile stops: names and lines are not read while it runs).</summary>
    public void Resolve(Func<MethodKey, ProfiledMethod> name)
    {
        var stack = new Stack<CallNode>(Children);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            node.Method ??= name(node.Key!);
            foreach (var child in node.Children)
                stack.Push(child);
        }
    }
}

/// <summary>
/// What a call tree node stands for while profiling: the code that runs (in process: a box's type, a delegate's
/// method) or, when that is not known, the event's operation name. One instance per code (the accounting keeps them),
/// so the tree's dictionaries compare references.
/// </summary>
internal sealed class MethodKey(object? code, string? operationName, CodeKind kind)
{
    public object? Code { get; } = code;

    public string? OperationName { get; } = operationName;

    /// <summary>Whose code it is (decides whether the profile lists it or folds it).</summary>
    public CodeKind Kind { get; } = kind;
}
