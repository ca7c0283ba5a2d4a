using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

public sealed class TaskTableTests
{
    private static TaskRecord Record(int id) => new(id, TaskOrigin.AsyncMethod, 0, 1, null, null);

    [Fact]
    public void Finds_and_removes_by_id()
    {
        var table = new TaskTable();
        var r = Record(7);
        table.Add(r);
        Assert.Same(r, table.Find(7));
        Assert.Null(table.Find(8));
        Assert.Same(r, table.Remove(7));
        Assert.Null(table.Find(7));
        Assert.Null(table.Remove(7));
    }

    [Fact]
    public void A_long_lived_task_in_the_slot_sends_the_newcomer_to_the_overflow()
    {
        var table = new TaskTable();
        var old = Record(5);
        var newcomer = Record(5 + (1 << 16));
        table.Add(old);
        table.Add(newcomer);
        Assert.Same(old, table.Find(5));
        Assert.Same(newcomer, table.Find(5 + (1 << 16)));
        Assert.Same(newcomer, table.Remove(5 + (1 << 16)));
        Assert.Same(old, table.Remove(5));
    }
}
