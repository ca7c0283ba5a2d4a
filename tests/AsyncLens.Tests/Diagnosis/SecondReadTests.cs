using AsyncLens.Diagnosis;
using Xunit;

namespace AsyncLens.Tests.Diagnosis;

/// <summary>
/// Stuck is pending for long: requests parked at one await are stuck only when a second read, a moment later, finds
/// as many of the same ones still parked there. A library's replies in flight wait for a TaskCompletionSource each as a
/// forgotten signal does (StackExchange.Redis completes its replies so), but a moment later they are other ones.
/// </summary>
public sealed class SecondReadTests
{
    private const string F = SnapshotBuilder.File;

    private const int Writes = 20;

    // A round of cache writes in flight (DbWorker's healthy mode): each awaits the reply its own TaskCompletionSource brings.
    private static SnapshotBuilder CacheWrites(SnapshotBuilder b, int count)
    {
        for (var i = 0; i < count; i++)
            b.Awaits(b.Method("Healthy.CacheCustomerAsync(IDatabase, Customer)", 40), b.Awaited("TaskCompletionSource"));
        return b;
    }

    // A second read: the first `still` writes of the first read, the same objects, then other writes sent since.
    private static SnapshotBuilder Later(int still)
    {
        var b = CacheWrites(new SnapshotBuilder(), still);
        for (var i = 2 * still; i < 2 * Writes; i++)
            b.Awaited("Task.Delay"); // numbering past the first read's nodes: what follows are other objects
        return CacheWrites(b, Writes - still);
    }

    [Fact]
    public void Writes_in_flight_that_a_second_read_finds_replaced_are_healthy()
    {
        var verdicts = Doctor.Diagnose(CacheWrites(new SnapshotBuilder(), Writes).Build(readAgain: CacheWrites(new SnapshotBuilder(first: 1_000), Writes))).Verdicts;

        Assert.Equal("healthy", Assert.Single(verdicts).Kind);
    }

    [Fact]
    public void Writes_a_second_read_finds_still_pending_are_stuck_and_say_how_long_at_least()
    {
        var verdict = Assert.Single(Doctor.Diagnose(CacheWrites(new SnapshotBuilder(), Writes).Build(readAgain: Later(Writes))).Verdicts);

        Assert.Equal("stuck-requests", verdict.Kind);
        Assert.Equal($"20 pending at `Healthy.CacheCustomerAsync(IDatabase, Customer)` at {F}:40, waiting for a TaskCompletionSource each (a signal some code must give, not I/O or a timer) "
            + "(all still pending at a second read 1.2 s later)", verdict.Summary);
    }

    [Fact]
    public void Stuck_needs_as_many_of_the_same_ones_still_there_as_it_needs_at_one_read()
    {
        var few = Doctor.Diagnose(CacheWrites(new SnapshotBuilder(), Writes).Build(readAgain: Later(Doctor.StuckShared - 1))).Verdicts;
        var enough = Doctor.Diagnose(CacheWrites(new SnapshotBuilder(), Writes).Build(readAgain: Later(Doctor.StuckShared))).Verdicts;

        Assert.Equal("healthy", Assert.Single(few).Kind);
        Assert.EndsWith("(10 of them still pending at a second read 1.2 s later)", Assert.Single(enough).Summary);
    }

    [Fact]
    public void A_method_still_pending_but_parked_at_another_await_is_not_the_same_wait()
    {
        var moved = new SnapshotBuilder();
        for (var i = 0; i < Writes; i++)
            moved.Awaits(moved.Method("Healthy.CacheCustomerAsync(IDatabase, Customer)", 41), moved.Awaited("TaskCompletionSource"));

        var verdicts = Doctor.Diagnose(CacheWrites(new SnapshotBuilder(), Writes).Build(readAgain: moved)).Verdicts;

        Assert.Equal("healthy", Assert.Single(verdicts).Kind);
    }

    [Fact]
    public void One_read_alone_a_dump_judges_as_before()
    {
        var verdict = Assert.Single(Doctor.Diagnose(CacheWrites(new SnapshotBuilder(), Writes).Build()).Verdicts);

        Assert.EndsWith("(ages are not known from outside)", verdict.Summary);
    }
}
