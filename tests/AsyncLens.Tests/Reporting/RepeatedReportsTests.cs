using AsyncLens.Reporting;
using Xunit;

namespace AsyncLens.Tests.Reporting;

/// <summary>Repeats of one site (kind, method, location) coalesced per interval, on a clock the test moves.</summary>
public sealed class RepeatedReportsTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
    private readonly RepeatedReports _repeats;

    public RepeatedReportsTests() => _repeats = new RepeatedReports(_clock);

    [Fact]
    public void The_first_report_of_a_site_is_written_and_its_repeats_are_counted_with_the_longest()
    {
        Assert.False(_repeats.IsRepeat(Slow(0.2)));
        foreach (var seconds in new[] { 0.3, 0.9, 0.4 })
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            Assert.True(_repeats.IsRepeat(Slow(seconds)));
        }
        Assert.Empty(_repeats.Due());
        Assert.Equal(_clock.Start + RepeatedReports.Interval, _repeats.NextDue);
        _clock.Advance(TimeSpan.FromSeconds(7));
        var summary = Assert.Single(_repeats.Due());
        Assert.Equal((AsyncReportKinds.SlowStep, "Shop.FetchUser(int)", 3, 0.9), (summary.Kind, summary.Method, summary.Repeats, summary.DurationSeconds));
        Assert.Equal(new SourceLine("/src/Shop.cs", 15), summary.Location);
        Assert.Equal(_clock.Start, summary.RepeatsSince);
        Assert.Equal(
            "Shop.FetchUser(int) at /src/Shop.cs:15: 3 more times in the last 10.0 s, the longest 0.900 s (the first was reported in full; repeats of one site are counted, not shown)",
            summary.Message);
    }

    [Fact]
    public void Repeats_that_keep_coming_give_one_summary_per_interval_and_a_quiet_interval_closes_the_site()
    {
        Assert.False(_repeats.IsRepeat(Slow(0.2)));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(_repeats.IsRepeat(Slow(0.2)));
        _clock.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(1, Assert.Single(_repeats.Due()).Repeats);
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_repeats.IsRepeat(Slow(0.5))); // the next interval is open
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, Assert.Single(_repeats.Due()).Repeats);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(_repeats.Due()); // nothing came: the site closes
        Assert.Null(_repeats.NextDue);
        Assert.False(_repeats.IsRepeat(Slow(0.2))); // written in full again
    }

    [Fact]
    public void A_site_is_its_kind_method_and_location()
    {
        Assert.False(_repeats.IsRepeat(Slow(0.2)));
        Assert.False(_repeats.IsRepeat(Slow(0.2, line: 16)));
        Assert.False(_repeats.IsRepeat(Slow(0.2, method: "Shop.FetchOrder(int)")));
        Assert.False(_repeats.IsRepeat(Slow(0.2, kind: AsyncReportKinds.HungStep)));
        Assert.True(_repeats.IsRepeat(Slow(0.7, taskId: 99)));
    }

    [Fact]
    public void At_exit_every_count_so_far_is_due()
    {
        Assert.False(_repeats.IsRepeat(Fault()));
        Assert.True(_repeats.IsRepeat(Fault()));
        Assert.True(_repeats.IsRepeat(Fault()));
        _clock.Advance(TimeSpan.FromSeconds(0.5));
        var summary = Assert.Single(_repeats.Due(all: true));
        Assert.Equal(2, summary.Repeats);
        Assert.Null(summary.DurationSeconds);
        Assert.Equal(
            "Worker.RunAsync() at /src/Worker.cs:9: 2 more times in the last 0.5 s (the first was reported in full; repeats of one site are counted, not shown)",
            summary.Message);
    }

    private static AsyncReport Slow(double seconds, string kind = AsyncReportKinds.SlowStep, string method = "Shop.FetchUser(int)", int line = 15, int taskId = 12) => new()
    {
        Kind = kind,
        TaskId = taskId,
        Method = method,
        Location = new SourceLine("/src/Shop.cs", line),
        DurationSeconds = seconds,
        Message = "Shop.FetchUser(int) ran ...",
    };

    private static AsyncReport Fault() => new()
    {
        Kind = AsyncReportKinds.UnobservedException,
        TaskId = 3,
        Method = "Worker.RunAsync()",
        Location = new SourceLine("/src/Worker.cs", 9, "Worker.RunAsync()"),
        Message = "Worker.RunAsync() faulted ...",
    };

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public DateTimeOffset Start { get; } = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
