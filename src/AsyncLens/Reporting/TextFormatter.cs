using System.Globalization;
using System.Text;

namespace AsyncLens.Reporting;

/// <summary>
/// The text format: one block per report, first line <c>asynclens: &lt;kind&gt;: ...</c>, then the
/// lines a person needs at 3 a.m.: where, how long, the async stack, where it was created, the fix.
/// </summary>
internal static class TextFormatter
{
    public static string Format(AsyncReport r)
    {
        var sb = new StringBuilder();
        sb.Append("asynclens: ").Append(r.Kind).Append(": ").Append(r.Message).Append('\n');
        if (r.Repeats > 0)
            return sb.ToString(); // a summary of repeats: its one line says it all
        switch (r.Kind)
        {
            case AsyncReportKinds.SlowStep or AsyncReportKinds.HungStep:
                if (r.Location is { } at && at != r.ResumedAt)
                    Line(sb, "at", at);
                if (r.ResumedAt is { } from)
                {
                    sb.Append("  ").Append(r.Ongoing ? "running since " : "ran from ").Append(Where(from)).Append(r.FirstStep ? " (started here)" : " (resumed here)");
                    if (r.StoppedAt is { } to)
                        sb.Append(" to ").Append(Where(to)).Append(r.StoppedAt.Line != r.ResumedAt.Line ? " (stopped here)" : r.Ended ? " (ended here)" : " (parked here again)");
                    sb.Append('\n');
                }
                break;
            case AsyncReportKinds.BlockingWait or AsyncReportKinds.SyncOverAsyncDeadlock:
                if (r.Location is { } waitedAt)
                    Line(sb, "waited at", waitedAt);
                if (r.WaitingOn is { ParkedAt: { } parked })
                    Line(sb, $"task {r.WaitingOn.TaskId} is parked at", parked);
                if (r.ContinuationAt is { } stuckAt)
                    Line(sb, "its continuation, queued to the blocked thread, is the await at", stuckAt);
                break;
            case AsyncReportKinds.UnobservedException or AsyncReportKinds.AsyncVoidCrash:
                if (r.Location is { } thrown)
                    Line(sb, "thrown at", thrown);
                break;
            case AsyncReportKinds.CancelledCleanup:
                if (r.Location is { } cleanupAt)
                    Line(sb, "awaited at", cleanupAt);
                if (r.CancelledAt is { } cancelledAt)
                    Line(sb, "the try block was canceled at", cancelledAt);
                break;
            case AsyncReportKinds.LostExceptions:
                if (r.Location is { } awaitedAt)
                    Line(sb, "awaited at", awaitedAt);
                break;
            case AsyncReportKinds.PendingCollected:
                if (r.Location is { } parkedAt)
                    Line(sb, "parked at", parkedAt);
                break;
        }
        if (r.CreatedAt is { } created)
            sb.Append("  created at ").Append(Where(created)).Append(created.Method is { } m ? $" in {m}" : "").Append('\n');
        else
            sb.Append("  created at: unknown (before debug mode started, or by framework code)\n");
        if (r.AsyncStack.Count > 0)
        {
            sb.Append("  async stack (root first):\n");
            foreach (var frame in r.AsyncStack)
            {
                sb.Append("    ").Append(frame.Method);
                if (frame.File is not null)
                    sb.Append(" at ").Append(frame.File).Append(':').Append(frame.Line?.ToString(CultureInfo.InvariantCulture));
                sb.Append('\n');
            }
        }
        if (r.Exception is { } ex)
        {
            sb.Append("  exception: ").Append(ex.Type).Append(": ");
            // A message of several lines (a database error with its position, a hint) stays inside the block: every
            // line after the first indented, and no blank line, which would end the block.
            var first = true;
            foreach (var line in ex.Message.Split('\n'))
            {
                if (line.TrimEnd('\r').Length == 0 && !first)
                    continue;
                sb.Append(first ? "" : "    ").Append(line.TrimEnd('\r')).Append('\n');
                first = false;
            }
            if (!string.IsNullOrEmpty(ex.StackTrace))
            {
                foreach (var line in ex.StackTrace.Split('\n'))
                    sb.Append("    ").Append(line.TrimEnd('\r').TrimStart()).Append('\n');
            }
        }
        foreach (var lost in r.LostExceptions ?? [])
        {
            sb.Append("  never seen: ").Append(lost.Type).Append(": ").Append(OneLine(lost.Message)).Append('\n');
            if (lost.ThrownAt is { } thrownAt)
                sb.Append("    thrown at ").Append(Where(thrownAt)).Append(lost.Method is { } m2 ? $" in {m2}" : "").Append('\n');
            if (lost.CreatedAt is { } lostCreated)
                sb.Append("    created at ").Append(Where(lostCreated)).Append(lostCreated.Method is { } m3 ? $" in {m3}" : "").Append('\n');
        }
        if (r.Fix is not null)
            sb.Append("  fix: ").Append(r.Fix).Append('\n');
        return sb.ToString();
    }

    // A message of several lines, kept on one (the block never breaks).
    private static string OneLine(string text) => string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));

    private static void Line(StringBuilder sb, string label, SourceLine at) =>
        sb.Append("  ").Append(label).Append(' ').Append(Where(at)).Append(at.Method is { } m ? $" in {m}" : "").Append('\n');

    private static string Where(SourceLine at) => $"{at.File}:{at.Line.ToString(CultureInfo.InvariantCulture)}";
}
