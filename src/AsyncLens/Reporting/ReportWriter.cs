using AsyncLens.Detection;
using AsyncLens.Tracking;

namespace AsyncLens.Reporting;

/// <summary>
/// Builds and writes reports on its own thread. App threads only enqueue a finding; a full queue
/// drops (and counts) rather than blocks, and a stalled output (a pipe nobody reads) stalls only
/// this thread, never the app. Reports a named output (a file) refuses are counted and said once on
/// standard error; the process then exits with <see cref="LostReportsExitCode"/>.
/// </summary>
internal sealed class ReportWriter : IFindingSink, IDisposable
{
    /// <summary>EX_IOERR (sysexits.h): the exit code of a process whose reports could not be written.</summary>
    public const int LostReportsExitCode = 74;

    private const int Capacity = 1024;

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

    private readonly ReportBuilder _builder;

    /// <param name="output">Where reports go.</param>
    /// <param name="outputName">What <paramref name="output"/> is, for the line saying reports were lost; null for standard error.</param>
    /// <param name="format">Text or JSON.</param>
    /// <param name="onReport">The user's callback, after each report is written.</param>
    /// <param name="builder">Findings to reports.</param>
    public ReportWriter(TextWriter output, string? outputName, AsyncReportFormat format, Action<AsyncReport>? onReport, ReportBuilder builder)
    {
        _builder = builder;
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

    public void Dispose()
    {
        Flush(TimeSpan.FromSeconds(2));
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
            Finding finding;
            int dropped;
            lock (_queue)
            {
                while (_queue.Count == 0 && !_stopping)
                    Monitor.Wait(_queue);
                if (_queue.Count == 0)
                    return;
                finding = _queue.Dequeue();
                dropped = _dropped;
                _dropped = 0;
                _busy = 1;
            }
            try
            {
                if (dropped > 0)
                    Write($"asynclens: {dropped} report(s) dropped: findings came faster than they could be written\n");
                Write(finding);
            }
            finally
            {
                lock (_queue)
                {
                    _busy = 0;
                    Monitor.PulseAll(_queue);
                }
            }
        }
    }

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
            report = _builder.Build(finding);
        }
        catch (Exception ex)
        {
            Write($"asynclens: could not build a report for task {finding.TaskId}: {ex.GetType().Name}: {ex.Message}\n");
            return;
        }
        if (report is null)
            return;
        if (!Write(_format == AsyncReportFormat.Json ? JsonFormatter.Format(report) : TextFormatter.Format(report) + "\n") && _outputName is not null)
            Interlocked.Increment(ref _lost);
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

    private bool Write(string text)
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
