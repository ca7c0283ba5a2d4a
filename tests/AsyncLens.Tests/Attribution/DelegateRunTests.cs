using AsyncLens.Attribution;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;
using Xunit;
using static AsyncLens.Tests.Attribution.StretchLocatorTests;

namespace AsyncLens.Tests.Attribution;

/// <summary>
/// A delegate task's run (<c>Task.Run(() => ...)</c>, a scheduler's task) judged for the first step of an async method
/// it called (<see cref="StretchEvidence.DelegateRun"/>): the delegate's own code, where blocking work belongs, is never
/// what is reported.
/// </summary>
public sealed class DelegateRunTests
{
    private static readonly TimeSplit Blocked = new(10_000, 3_000_000);

    // Delegates a delegate task runs: one that calls an async method, one that blocks in its own code first.
    private static Task Calls() => Samples.CountVisitsAsync(); // @delegate.calls

    private static Task BlocksThenCalls()
    {
        Thread.Sleep(300);
        return Samples.CountVisitsAsync();
    }

    [Fact]
    public void A_delegate_that_calls_an_async_method_is_reported_as_that_methods_first_step_called_at_its_line()
    {
        var stretch = StretchLocator.Locate(Run(nameof(Calls))) ?? throw new Xunit.Sdk.XunitException("no stretch located");
        Assert.Equal("Samples.CountVisitsAsync()", stretch.Code.Name);
        Assert.Equal(Found.Called, stretch.How);
        Assert.True(stretch.FirstStep);
        Assert.Equal(41, stretch.TaskId);
        Assert.Equal(Line("sample.visits.read"), stretch.Code.LineAt(stretch.Hint!.Offset)?.Line);
        Assert.Equal(Line("delegate.calls"), Assert.Single(stretch.Callers).CallLine?.Line);
    }

    [Fact]
    public void A_delegate_that_blocks_in_its_own_code_is_not_reported_whatever_the_async_method_it_calls_next()
    {
        Assert.Null(StretchLocator.Locate(Run(nameof(BlocksThenCalls))));
        // Its code unread (a package's delegate, as Akka.NET's around a ReceiveAsync handler), the box created after the
        // gap is all there is to go by: the async method's first step is reported.
        var unread = StretchLocator.Locate(Run(nameof(BlocksThenCalls)) with { DelegateCode = null });
        Assert.Equal(Found.AfterGap, unread?.How);
        Assert.Equal("Samples.CountVisitsAsync()", unread?.Code.Name);
    }

    [Fact]
    public void The_boxes_one_park_made_share_its_gap_and_the_apps_outermost_is_asked_first()
    {
        // A package's delegate (Hangfire's) ran a job that hashed, then parked through a callback: the park made the
        // callback's box first (after the whole gap, naming nothing), then the job's, microseconds later.
        var stretch = StretchLocator.Locate(Park(warmUp: false)) ?? throw new Xunit.Sdk.XunitException("no stretch located");
        Assert.Equal("Samples.InvoiceAsync(byte[], Func<Task>)", stretch.Code.Name);
        Assert.Equal(Found.AfterGap, stretch.How);
        Assert.Equal(52, stretch.TaskId);
        Assert.Equal(Line("sample.invoice.hash"), stretch.Code.LineAt(stretch.Hint!.Offset)?.Line);
        // A box made long after the gap's (its own gap a quarter of the floor or more) belongs to another park: not asked.
        Assert.Null(StretchLocator.Locate(Park(warmUp: false, secondGap: 400_000)));
    }

    [Fact]
    public void While_the_process_warms_up_a_cause_in_the_apps_first_step_counts_in_a_delegate_run_not_in_a_framework_step()
    {
        Assert.Equal("Samples.InvoiceAsync(byte[], Func<Task>)", StretchLocator.Locate(Park(warmUp: true))?.Code.Name);
        // A framework step that ran it (Kestrel's request loop on .NET 11): warming up, only a blocking call counts.
        Assert.Null(StretchLocator.Locate(Park(warmUp: true) with { DelegateRun = false, RuntimeAsync = true }));
    }

    // A 0.3 s run on a CPU, by a delegate of a package's (unread), whose park made RelayAsync's box 0.29 s in, then
    // InvoiceAsync's `secondGap` later, both at their first await.
    private static StretchEvidence Park(bool warmUp, long secondGap = 1_000) =>
        new(null, -1, AsyncState.Unknown, 0.3, Ongoing: false)
        {
            Time = new TimeSplit(3_000_000, 0),
            FirstSteps =
            [
                new FirstStep(new TaskRecord(51, TaskOrigin.AsyncMethod, 0, 1, null, null), Machine(nameof(Samples.RelayAsync)), State: 0, GapTicks: 2_900_000),
                new FirstStep(new TaskRecord(52, TaskOrigin.AsyncMethod, 0, 1, null, null), Machine(nameof(Samples.InvoiceAsync)), State: 0, GapTicks: secondGap),
            ],
            DelegateRun = true,
            WarmUp = warmUp,
        };

    // A 0.3 s run, blocked, whose delegate is `method`, that created CountVisitsAsync's box 0.29 s in, parked at its second await.
    private static StretchEvidence Run(string method) =>
        new(null, -1, AsyncState.Unknown, 0.3, Ongoing: false)
        {
            Time = Blocked,
            FirstSteps = [new FirstStep(new TaskRecord(41, TaskOrigin.AsyncMethod, 0, 1, null, null), Machine(nameof(Samples.CountVisitsAsync)), State: 1, GapTicks: 2_900_000)],
            DelegateRun = true,
            DelegateCode = typeof(DelegateRunTests).GetMethod(method, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static),
        };
}
