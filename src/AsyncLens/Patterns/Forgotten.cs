using AsyncLens.Reporting;
using AsyncLens.Runtime;

namespace AsyncLens;

/// <summary>The line that called <c>Forget</c>, and the handler it was given, if any.</summary>
internal sealed record ForgetSite(string File, int Line, string Member, Action<Exception>? OnError);

/// <summary>
/// What <c>Forget</c> does with a forgotten task: one continuation, which, if the task faulted, gives its exception to the
/// handler or reports it. The report is built only then, so a task that does not fault costs the continuation alone.
/// </summary>
internal static class Forgotten
{
    // How long process exit waits for reports still being built (reading the PDB can take a second on a busy machine).
    private static readonly TimeSpan s_exitPatience = TimeSpan.FromSeconds(3);
    private static readonly object s_stderr = new();
    private static int s_building;
    private static int s_exitHooked;

    public static void Watch(Task task, ForgetSite site)
    {
        if (task.IsCompleted)
            OnCompleted(task, site);
        else
            task.ContinueWith(static (t, s) => OnCompleted(t, (ForgetSite)s!), site, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static void OnCompleted(Task task, ForgetSite site)
    {
        if (!task.IsFaulted)
            return;
        var all = task.Exception!; // read: the fault is observed here, the GC will not report it again
        var exception = all.InnerExceptions.Count == 1 ? all.InnerExceptions[0] : all;
        if (site.OnError is { } onError)
        {
            try
            {
                onError(exception);
                return;
            }
            catch (Exception failed)
            {
                exception = failed;
            }
        }
        Report(new FaultFinding(task.Id, DateTimeOffset.UtcNow, exception, BoxInfo.Of(task), TaskInternals.Action(task), null, null) { ForgottenAt = site });
    }

    // To debug mode's output when it is on (its format, its file); else, debug mode being off, as text to standard error.
    private static void Report(FaultFinding finding)
    {
        if (AsyncDebug.Report(finding))
            return;
        if (Interlocked.Exchange(ref s_exitHooked, 1) == 0)
            AppDomain.CurrentDomain.ProcessExit += static (_, _) => WaitForReports();
        lock (s_stderr)
            s_building++;
        try
        {
            if (new ReportBuilder(new CreationSites(static _ => null)).Build(finding) is { } report)
            {
                lock (s_stderr)
                    Console.Error.Write(TextFormatter.Format(report) + "\n");
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Standard error is gone: nothing can be said, and the app must not fail for it.
        }
        catch (Exception e)
        {
            // Never lost silently: the report could not be built (symbols unreadable...), its first line still can be.
            lock (s_stderr)
                Console.Error.WriteLine($"asynclens: unobserved-exception: a task forgotten at {Path.GetFileName(finding.ForgottenAt!.File)}:{finding.ForgottenAt.Line} by `.Forget()` faulted with {finding.Exception?.GetType().Name}: {finding.Exception?.Message} (the full report failed: {e.GetType().Name}: {e.Message})");
        }
        finally
        {
            lock (s_stderr)
            {
                s_building--;
                Monitor.PulseAll(s_stderr);
            }
        }
    }

    // A fault reported just before the process ends is still written (debug mode's writer does the same at exit).
    private static void WaitForReports()
    {
        var deadline = DateTime.UtcNow + s_exitPatience;
        lock (s_stderr)
        {
            while (Volatile.Read(ref s_building) > 0 && DateTime.UtcNow < deadline)
                Monitor.Wait(s_stderr, TimeSpan.FromMilliseconds(20));
        }
    }
}
