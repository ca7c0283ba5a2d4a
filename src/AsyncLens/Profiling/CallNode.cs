namespace AsyncLens.Profiling;

/// <summary>One node of the async call tree: a method reached through one path of awaiters.</summary>
internal sealed class CallNode(ProfiledMethod? method, CallNode? parent)
{
    private Dictionary<ProfiledMethod, CallNode>? _children;

    public ProfiledMethod? Method { get; } = method;

    public CallNode? Parent { get; } = parent;

    public IEnumerable<CallNode> Children => _children?.Values ?? Enumerable.Empty<CallNode>();

    public int Calls;
    public int Pending;
    public int StartedBefore;
    public long Wall;
    public long SelfWall;
    public long OnThread;

    public CallNode Child(ProfiledMethod method)
    {
        _children ??= [];
        if (!_children.TryGetValue(method, out var child))
            _children[method] = child = new CallNode(method, this);
        return child;
    }
}
