namespace AsyncLens.Detection;

/// <summary>A bounded set of the most recently added ids.</summary>
internal sealed class RecentIds(int capacity)
{
    private readonly HashSet<int> _set = [];
    private readonly Queue<int> _order = new();

    public bool Contains(int id)
    {
        lock (_set)
            return _set.Contains(id);
    }

    public void Add(int id)
    {
        lock (_set)
        {
            if (!_set.Add(id))
                return;
            _order.Enqueue(id);
            if (_order.Count > capacity)
                _set.Remove(_order.Dequeue());
        }
    }
}
