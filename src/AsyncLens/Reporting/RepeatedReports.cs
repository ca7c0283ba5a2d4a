namespace AsyncLens.Reporting;

/// <summary>
/// Repeats of one site, coalesced: under load the same slow step at the same line can come dozens of times a second,
/// and a flood of identical 15-line blocks hides everything else. A site is the report's kind, method and location (the
/// line it points at). Its first report is written in full; the repeats that follow within <see cref="Interval"/> are
/// counted, with the longest duration among them, and written as one summary when the interval ends
/// (<see cref="AsyncReport.Repeats"/>); while repeats keep coming, one summary per interval. An interval that ends
/// with no repeat closes the site: its next report is written in full again. Every occurrence is counted: the full
/// reports plus the summaries' <see cref="AsyncReport.Repeats"/>. Used by the reporter thread only.
/// </summary>
internal sealed class RepeatedReports(TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Dictionary<Site, Window> _open = [];

    /// <summary>True when <paramref name="report"/> repeats a site written in full within the interval: it is counted, not written.</summary>
    public bool IsRepeat(AsyncReport report)
    {
        var now = time.GetUtcNow();
        var site = Site.Of(report);
        if (_open.TryGetValue(site, out var window) && now < window.Ends)
        {
            window.Count++;
            window.Last = report;
            if (report.DurationSeconds is { } seconds && seconds > window.Longest)
                window.Longest = seconds;
            return true;
        }
        _open[site] = new Window(now + Interval);
        return false;
    }

    /// <summary>When the next interval ends, if any is open: the reporter writes what is due then.</summary>
    public DateTimeOffset? NextDue => _open.Count == 0 ? null : _open.Values.Min(w => w.Ends);

    /// <summary>
    /// The summaries of the intervals that have ended (all open ones with repeats, when <paramref name="all"/>: at exit).
    /// An interval with repeats opens the next; one without closes its site.
    /// </summary>
    public List<AsyncReport> Due(bool all = false)
    {
        var now = time.GetUtcNow();
        var due = new List<AsyncReport>();
        foreach (var (site, window) in _open.ToList())
        {
            if (!all && now < window.Ends)
                continue;
            if (window.Count == 0)
            {
                _open.Remove(site);
                continue;
            }
            due.Add(Summary(window, now));
            _open[site] = new Window(now + Interval);
        }
        return due;
    }

    private static AsyncReport Summary(Window window, DateTimeOffset now)
    {
        var last = window.Last!;
        var since = window.Ends - Interval;
        var seconds = (now - since).TotalSeconds;
        var where = last.Location is { } at ? $" at {at.File}:{at.Line}" : "";
        var longest = window.Longest > 0 ? $", the longest {window.Longest.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)} s" : "";
        var times = window.Count == 1 ? "once more" : $"{window.Count} more times";
        return new AsyncReport
        {
            Kind = last.Kind,
            TaskId = last.TaskId,
            Method = last.Method,
            Location = last.Location,
            DurationSeconds = window.Longest > 0 ? window.Longest : null,
            Repeats = window.Count,
            RepeatsSince = since,
            Message = $"{last.Method}{where}: {times} in the last {seconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} s{longest} (the first was reported in full; repeats of one site are counted, not shown)",
            Timestamp = now,
        };
    }

    private readonly record struct Site(string Kind, string Method, string? File, int Line)
    {
        public static Site Of(AsyncReport r) => new(r.Kind, r.Method, r.Location?.File, r.Location?.Line ?? 0);
    }

    private sealed class Window(DateTimeOffset ends)
    {
        public DateTimeOffset Ends { get; } = ends;

        public int Count;

        public double Longest;

        public AsyncReport? Last;
    }
}
