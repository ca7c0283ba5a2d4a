using AsyncLens.Symbols;

namespace AsyncLens.Reporting;

/// <summary>
/// A report written short, at process exit, for a finding whose full report could not be built in time (a busy
/// machine can take seconds to load the symbols of the first one): its kind, method, task and duration, with no file
/// to read. Better than a report lost; but a finding the full report's judgement would drop is not written short
/// either (<see cref="ReportBuilder.Judge"/>: a step naming nothing worth a report), unless there is no time left to judge.
/// </summary>
internal static class ShortReports
{
    private const string CutShort = " (written short at exit: the full report could not be built in time)";

    /// <param name="finding">What a detector saw.</param>
    /// <param name="judge">Whether to judge it as its full report would be (reading the code's IL and symbols).</param>
    public static AsyncReport? For(Finding finding, bool judge)
    {
        string kind, method, message;
        double? seconds = null;
        ExceptionInfo? exception = null;
        switch (finding)
        {
            case StepFinding s:
                var judged = judge ? ReportBuilder.Judge(s) : null;
                if (judge && judged is null)
                    return null;
                var evidence = judged?.Evidence ?? s.Evidence;
                (kind, method, seconds) = (evidence.Ongoing ? AsyncReportKinds.HungStep : AsyncReportKinds.SlowStep,
                    judged?.Stretch.Code.Name ?? ShortName(evidence), evidence.Seconds);
                var thread = s.ThreadId > 0 ? $" on thread {s.ThreadId}" : "";
                message = s.TaskId == 0
                    ? $"{method} ran {Seconds(evidence.Seconds)} s{thread} without yielding"
                    : $"{method} ran {Seconds(evidence.Seconds)} s{thread} without yielding (task {s.TaskId})";
                break;
            case WaitFinding w:
                (kind, method, seconds) = (AsyncReportKinds.BlockingWait, w.Step?.Box is { } box ? Name(box.StateMachineType) : "(unknown)", w.Seconds);
                message = $"thread {w.ThreadId} blocked {Seconds(w.Seconds)} s waiting synchronously for task {w.TaskId} in {method}";
                break;
            case FaultFinding f:
                kind = AsyncReportKinds.UnobservedException;
                method = f.Box is { } faulted ? Name(faulted.StateMachineType) : f.Action is { } action ? MethodNames.Format(action.Method) : "(unknown)";
                exception = f.Exception is { } ex ? new ExceptionInfo(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex.StackTrace) : null;
                message = $"{method} faulted with {f.Exception?.GetType().Name ?? "an exception"}: {FirstLine(f.Exception?.Message)}, and nothing awaited it or read its exception (task {f.TaskId})";
                break;
            case AsyncVoidFinding v:
                kind = AsyncReportKinds.AsyncVoidCrash;
                method = v.Box is { } box2 ? Name(box2.StateMachineType) : v.MoveNext is { } m ? MethodNames.Format(m) : "(unknown)";
                exception = new ExceptionInfo(v.Exception.GetType().FullName ?? v.Exception.GetType().Name, v.Exception.Message, v.Exception.StackTrace);
                message = $"{method} threw {v.Exception.GetType().Name}: {FirstLine(v.Exception.Message)}; an async void method has no task to hold it, so the process goes down";
                break;
            case CollectedFinding c:
                (kind, method) = (AsyncReportKinds.PendingCollected, Name(c.Chain[0].Box.StateMachineType));
                message = $"{method} was garbage-collected while still pending (task {c.TaskId})";
                break;
            default:
                return null;
        }
        return new AsyncReport
        {
            Kind = kind,
            TaskId = finding.TaskId,
            Method = method,
            DurationSeconds = seconds is { } s2 ? Math.Round(s2, 3) : null,
            Exception = exception,
            Message = message + CutShort,
            Timestamp = finding.Timestamp,
        };
    }

    // A stretch without a method of its own (a request, a runtime-async dispatch of the BCL's) is named, as its full report
    // would be, by the first step of the user's that held most of it.
    private static string ShortName(Attribution.StretchEvidence e) =>
        e.StateMachine is { } stateMachine ? Name(stateMachine)
        : e.FirstSteps.MaxBy(s => s.GapTicks) is { } first ? Name(first.StateMachine)
        : e.RuntimeAsync ? "(a runtime-async step)" : "(a request)";

    private static string Name(Type stateMachine)
    {
        try
        {
            return MethodNames.ForStateMachine(stateMachine);
        }
        catch (Exception ex) when (ex is TypeLoadException or FileNotFoundException or BadImageFormatException)
        {
            return stateMachine.Name;
        }
    }

    private static string Seconds(double seconds) => seconds.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);

    private static string FirstLine(string? text) => text is null ? "" : text.Split('\n')[0].TrimEnd('\r');
}
