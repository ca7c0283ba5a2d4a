using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tests.Attribution;
using Xunit;

namespace AsyncLens.Tests.Reporting;

/// <summary>
/// A report written short at exit (its full report could not be built in time) is judged as the full report would be:
/// a slow step naming nothing worth a report (a library's step in which nothing of the app's ran) is written neither way.
/// Before, the short form skipped that judgement: DbWorker, 1 run in ~600, `slow-step PhysicalConnection.ReadAllAsync ...
/// (written short at exit ...)`, StackExchange.Redis's reader loop, a step its full report drops.
/// </summary>
public sealed class ShortReportsTests
{
    private static readonly TimeSplit Blocked = new(10_000, 3_000_000);

    [Fact]
    public void A_step_naming_nothing_is_not_written_short_and_one_naming_its_cause_is()
    {
        // A BCL async method's step with no box, handler or call of the app's in it (as StretchLocatorTests).
        var framework = typeof(SemaphoreSlim).GetMethod("WaitUntilCountOrTimeoutAsync", BindingFlags.Instance | BindingFlags.NonPublic)!
            .GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType;
        var nothing = Step(new StretchEvidence(framework, 0, -2, 0.164, Ongoing: false) { Time = new TimeSplit(3_000_000, 0), TaskId = 11 });
        Assert.Null(ReportBuilder.Judge(nothing));
        Assert.Null(ShortReports.For(nothing, judge: true));
        // No time left to judge it at exit: written short, rather than lost.
        Assert.Equal(AsyncReportKinds.SlowStep, ShortReports.For(nothing, judge: false)?.Kind);

        var blocked = Step(new StretchEvidence(StretchLocatorTests.Machine(nameof(Samples.LoadThenBranchAsync)), 0, -2, 0.3, Ongoing: false) { Time = Blocked, TaskId = 11 });
        var report = ShortReports.For(blocked, judge: true);
        Assert.NotNull(report);
        Assert.Equal(AsyncReportKinds.SlowStep, report.Kind);
        Assert.Equal("Samples.LoadThenBranchAsync(string, bool)", report.Method);
        Assert.Equal("Samples.LoadThenBranchAsync(string, bool) ran 0.300 s on thread 4 without yielding (task 11)"
            + " (written short at exit: the full report could not be built in time)", report.Message);
    }

    private static StepFinding Step(StretchEvidence evidence) =>
        new(evidence.TaskId, DateTimeOffset.UtcNow, 4, RawAsyncStack.Empty, null, evidence);
}
