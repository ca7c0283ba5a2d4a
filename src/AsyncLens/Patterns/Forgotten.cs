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
    private static readonly Lock s_stderr = new();

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
    }
}
