using AsyncLens.Detection;
using AsyncLens.Tracking;

namespace AsyncLens.Reporting;

/// <summary>
/// Builds and writes reports on its own thread. App threads only enqueue a finding; a full queue
/// drops (and counts) rather than blocks, and a stalled output (a pipe nobody reads) stalls only
/// this thread, never the app. Reports a named output (a file) refuses are counted and said once on
/// standard error; the process then exits with <see cref="LostReportsExitCode"/>. Repeats of one site are coalesced
/// (<see cref="RepeatedReports"/>). At exit (<see cref="FlushAtExit"/>) what is still queued is written, and what cannot
/// be built in time is written short rather than lost.
/// </summary>
internal sealed class ReportWriter : IFindingSink, IDisposable
{
    /// <summary>EX_IOERR (sysexits.h): the exit code of a process whose reports could not be written.</summary>
    public const int LostReportsExitCode = 74;

    private const int Capacity = 1024;

    // At exit: how long reports may take to build, at most, and without one written.
    private static readonly TimeSpan s_exitCap = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_exitPatience = TimeSpan.FromSeconds(3);

    private readonly Queue<Finding> _queue = new();
    private readonly TextWriter _output;
    private readonly string? _outputName;
    private int _lost;
    private bool _toldLost;
    private readonly AsyncReportFormat _format;
    private readonly Action<AsyncReport>? _onReport;
    private readonly Thread _thread;
    private int _dropped;
    private int _busy;
    private bool _stopping;
    private bool _flushRepeats;
    private int _written;
    private Finding? _current;
    private readonly Lock _outputGate = new();
    private readonly HashSet<Finding> _writtenShort = new(ReferenceEqualityComparer.Instance);
    private readonly RepeatedReports _repeats;

    private readonly ReportBuilder _builder;

    /// <param name="output">Where reports go.</param>
    /// <param name="outputName">What <paramref name="output"/> is, for the line saying reports were lost; null for standard error.</param>
    /// <param name="format">Text or JSON.</param>
    /// <param name="onReport">The user's callback, after each report is written.</param>
    /// <param name="builder">Findings to reports.</param>
    /// <param name="time">The clock repeats are counted by.</param>
    public ReportWriter(TextWriter output, string? outputName, AsyncReportFormat format, Action<AsyncReport>? onReport, ReportBuilder builder, TimeProvider time)
    {
        _builder = builder;
        _repeats = new RepeatedReports(time);
        _output = output;
        _outputName = outputName;
        _format = format;
        _onReport = onReport;
        _thread = new Thread(Run) { IsBackground = true, Name = "AsyncLens reporter" };
        _thread.Start();
    }

    public void Add(Finding finding)
    {
        lock (_queue)
        {
            if (_stopping)
                return;
            if (_queue.Count >= Capacity)
            {
                _dropped++;
                return;
            }
            _queue.Enqueue(finding);
            Monitor.Pulse(_queue);
        }
    }

    /// <summary>Reports that a named output refused (disk full, file gone read-only).</summary>
    public int LostReports => Volatile.Read(ref _lost);

    /// <summary>Waits (up to <paramref name="timeout"/>) until everything queued so far is written.</summary>
    public void Flush(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_queue)
        {
            while ((_queue.Count > 0 || _busy > 0) && DateTime.UtcNow < deadline)
                Monitor.Wait(_queue, TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>
    /// At process exit: everything queued is written, and the repeats counted so far. The wait is bounded (at most
    /// <see cref="s_exitCap"/>, and <see cref="s_exitPatience"/> without a report written: a busy machine can take
    /// seconds to load the symbols of the first report); what is left then is written short, from this thread, so
    /// that a report once due is never lost.
    /// </summary>
    public void FlushAtExit()
    {
        var start = DateTime.UtcNow;
        var progress = start;
        List<Finding> left;
        lock (_queue)
        {
            _flushRepeats = true;
            Monitor.PulseAll(_queue);
            var written = _written;
            while ((_queue.Count > 0 || _busy > 0 || _flushRepeats) && DateTime.UtcNow - start < s_exitCap && DateTime.UtcNow - progress < s_exitPatience)
            {
                Monitor.Wait(_queue, TimeSpan.FromMilliseconds(20));
                if (_written != written)
                    (written, progress) = (_written, DateTime.UtcNow);
            }
            _stopping = true;
            left = [.. _current is { } current ? [current] : Array.Empty<Finding>(), .. _queue];
            _queue.Clear();
        }
        foreach (var finding in left)
        {
            if (WrittenShort(finding, judge: DateTime.UtcNow - start < s_exitCap) is not { } report)
                continue;
            lock (_outputGate)
            {
                _writtenShort.Add(finding);
                Output(Format(report));
            }
        }
    }

    // Judged as its full report would be while the exit's time lasts: a step naming nothing is no report, short or full.
    // A judgement that fails (as a report's building can) leaves the report written short unjudged, rather than lost.
    private static AsyncReport? WrittenShort(Finding finding, bool judge)
    {
        try
        {
            return ShortReports.For(finding, judge);
        }
        catch (Exception) when (judge)
        {
            return ShortReports.For(finding, judge: false);
        }
    }

    public void Dispose()
    {
        FlushAtExit();
        lock (_queue)
        {
            _stopping = true;
            Monitor.PulseAll(_queue);
        }
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    private void Run()
    {
        ThreadTracker.IsEngineThread = true;
        while (true)
        {
            Finding? finding = null;
            bool allRepeats;
            int dropped;
            lock (_queue)
            {
                while (_queue.Count == 0 && !_stopping && !_flushRepeats && !RepeatsDue(out var wait))
                    Monitor.Wait(_queue, wait);
                if (_queue.Count == 0 && _stopping)
                    return;
                if (_queue.Count > 0)
                    _current = finding = _queue.Dequeue();
                // The repeats counted so far go out once everything queued before the exit is written.
                allRepeats = _flushRepeats && _queue.Count == 0;
                dropped = _dropped;
                _dropped = 0;
                _busy = 1;
            }
            try
            {
                if (dropped > 0)
                    Write($"asynclens: {dropped} report(s) dropped: findings came faster than they could be written\n");
                if (finding is not null)
                    Write(finding);
                foreach (var summary in _repeats.Due(all: allRepeats))
                    Output(Format(summary));
            }
            finally
            {
                lock (_queue)
                {
                    _busy = 0;
                    _current = null;
                    _written++;
                    if (allRepeats)
                        _flushRepeats = false;
                    Monitor.PulseAll(_queue);
                }
            }
        }
    }

    // True when repeats are due to be written now; else how long until they are (infinite when none are counted).
    private bool RepeatsDue(out TimeSpan wait)
    {
        wait = Timeout.InfiniteTimeSpan;
        if (_repeats.NextDue is not { } due)
            return false;
        var left = due - DateTimeOffset.UtcNow;
        if (left <= TimeSpan.Zero)
            return true;
        wait = left + TimeSpan.FromMilliseconds(1);
        return false;
    }

    private string Format(AsyncReport report) =>
        _format == AsyncReportFormat.Json ? JsonFormatter.Format(report) : TextFormatter.Format(report) + "\n";

    private void Write(Finding finding)
    {
        if (finding is EngineFailure failure)
        {
            Write($"asynclens: debug mode switched itself off after an internal error ({failure.Exception.GetType().Name}: {failure.Exception.Message}); the app is unaffected\n");
            return;
        }
        AsyncReport? report;
        try
        {
            report = EngineCompilation.Measure(() => _builder.Build(finding));
        }
        catch (Exception ex)
        {
            Write($"asynclens: could not build a report for task {finding.TaskId}: {ex.GetType().Name}: {ex.Message}\n");
            return;
        }
        if (report is null)
            return;
        if (!_repeats.IsRepeat(report))
        {
            lock (_outputGate)
            {
                if (!_writtenShort.Contains(finding))
                    Output(Format(report));
            }
        }
        if (_onReport is not null)
        {
            try
            {
                _onReport(report);
            }
            catch (Exception ex)
            {
                Write($"asynclens: the OnReport callback threw {ex.GetType().Name}: {ex.Message}\n");
            }
        }
    }

    private void Write(string text)
    {
        lock (_outputGate)
            WriteOut(text);
    }

    // Writes a report's text (under the output gate); a named output that refuses it counts it as lost.
    private void Output(string report)
    {
        if (!WriteOut(report) && _outputName is not null)
            Interlocked.Increment(ref _lost);
    }

    private bool WriteOut(string text)
    {
        try
        {
            _output.Write(text);
            _output.Flush();
            return true;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            // The output is gone (disk full, closed pipe): the app goes on without reports. A file's failure is
            // said once, where the user looks; standard error's cannot be.
            if (_outputName is not null && !_toldLost)
            {
                _toldLost = true;
                try
                {
                    Console.Error.WriteLine($"asynclens: cannot write reports to {_outputName} ({ex.Message}): reports are lost from now on, and the process will exit with code {LostReportsExitCode}");
                }
                catch (IOException)
                {
                }
            }
            return false;
        }
    }
}
