using System.Runtime.CompilerServices;
using AsyncLens.Runtime;
using Xunit;

namespace AsyncLens.Tests.Runtime;

/// <summary>Tasks held by weak handles: found while alive, dropped when they complete, handed over when collected.</summary>
public sealed class WeakTasksTests
{
    [Fact]
    public void A_pending_task_is_found_until_it_completes()
    {
        var weak = new WeakTasks();
        var gate = new TaskCompletionSource();
        var task = gate.Task;
        weak.Add([new(task.Id, task)], 0, 1, static (_, t) => !t.IsCompleted);
        Assert.Same(task, weak.Find(task.Id));
        Assert.True(weak.MayHold);
        weak.Remove(task.Id);
        Assert.Null(weak.Find(task.Id));
        Assert.Equal(0, weak.Count);
        gate.SetResult();
    }

    [Fact]
    public void What_the_keep_test_refuses_is_not_added()
    {
        var weak = new WeakTasks();
        var done = Task.CompletedTask;
        weak.Add([new(done.Id, done)], 0, 1, static (_, t) => !t.IsCompleted);
        Assert.Null(weak.Find(done.Id));
        Assert.False(weak.MayHold);
    }

    [Fact]
    public void A_task_collected_while_pending_is_handed_over_once_and_completed_ones_are_dropped()
    {
        var weak = new WeakTasks();
        var id = AddAbandoned(weak);
        var kept = new TaskCompletionSource();
        weak.Add([new(kept.Task.Id, kept.Task)], 0, 1, static (_, _) => true);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var collected = new List<CollectedTask>();
        weak.ForEach(static (_, _, _) => Visit.Keep(AsyncLens.Runtime.Layout.AsyncState.Unknown), collected);
        Assert.Equal(id, Assert.Single(collected).Id);
        kept.SetResult();
        weak.ForEach(static (task, _, _) => task.IsCompleted ? Visit.Remove : Visit.Keep(AsyncLens.Runtime.Layout.AsyncState.Unknown), collected);
        Assert.Single(collected);
        Assert.Equal(0, weak.Count);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int AddAbandoned(WeakTasks weak)
    {
        var task = new TaskCompletionSource().Task; // nobody will ever complete it, nor hold it
        weak.Add([new(task.Id, task)], 0, 1, static (_, _) => true);
        return task.Id;
    }
}
