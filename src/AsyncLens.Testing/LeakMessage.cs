using System.Globalization;
using System.Text;

namespace AsyncLens.Testing;

/// <summary>The failure text: one line that says what leaked, then each leak, readable first and complete after (docs/testing.md).</summary>
internal static class LeakMessage
{
    public static string Format(AsyncLeakScope scope, IReadOnlyList<AsyncLeak> leaks)
    {
        var text = new StringBuilder();
        var who = scope.Options.TestName is { } name ? $"test {name}" : "this test";
        text.Append(CultureInfo.InvariantCulture, $"AsyncLens: {who} left async work behind: {Counts(leaks)} (grace period {scope.Options.GracePeriod.TotalMilliseconds:0} ms)\n");
        Append(text, leaks);
        return text.ToString().TrimEnd('\n');
    }

    public static string Unclaimed(IReadOnlyList<AsyncLeak> leaks)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"AsyncLens: work no test claimed (started with the ExecutionContext flow suppressed, or outside any test): {Counts(leaks)}\n");
        Append(text, leaks);
        return text.ToString().TrimEnd('\n');
    }

    private static void Append(StringBuilder text, IReadOnlyList<AsyncLeak> leaks)
    {
        foreach (var leak in leaks)
        {
            text.Append('\n');
            switch (leak.Kind)
            {
                case AsyncLeakKind.PendingTask:
                    text.Append(CultureInfo.InvariantCulture, $"pending task: {leak.Method}{At(" parked at ", leak.At)}\n");
                    text.Append(CultureInfo.InvariantCulture, $"  created at {Where(leak.CreatedAt)}\n");
                    text.Append("  async stack (root first):\n");
                    foreach (var frame in leak.AsyncStack)
                        text.Append("    ").Append(frame).Append('\n');
                    break;
                case AsyncLeakKind.Timer:
                    var period = leak.Period is { } p ? string.Create(CultureInfo.InvariantCulture, $"every {p.TotalMilliseconds:0} ms") : "once";
                    text.Append(CultureInfo.InvariantCulture, $"timer: {leak.Method}{At(" at ", leak.At)}, fires {period}, never disposed\n");
                    break;
                default:
                    var e = leak.Exception!;
                    text.Append(CultureInfo.InvariantCulture, $"unobserved exception: {e.GetType().FullName}: {OneLine(e.Message)}\n");
                    text.Append(CultureInfo.InvariantCulture, $"  thrown by {leak.Method}; nothing awaited it or read its exception\n");
                    text.Append(CultureInfo.InvariantCulture, $"  created at {Where(leak.CreatedAt)}\n");
                    text.Append("  stack:\n");
                    foreach (var line in (e.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        text.Append("    ").Append(line).Append('\n');
                    break;
            }
        }
    }

    private static string Counts(IReadOnlyList<AsyncLeak> leaks)
    {
        string Count(AsyncLeakKind kind, string one, string many)
        {
            var n = leaks.Count(l => l.Kind == kind);
            return n == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{n} {(n == 1 ? one : many)}");
        }
        return string.Join(", ", new[]
        {
            Count(AsyncLeakKind.PendingTask, "pending task", "pending tasks"),
            Count(AsyncLeakKind.Timer, "timer", "timers"),
            Count(AsyncLeakKind.UnobservedException, "unobserved exception", "unobserved exceptions"),
        }.Where(s => s.Length > 0));
    }

    private static string At(string prefix, SourceLine? line) => line is null ? "" : prefix + Where(line);

    private static string Where(SourceLine? line) =>
        line is null ? "(unknown)" : string.Create(CultureInfo.InvariantCulture, $"{line.File}:{line.Line}") + (line.Method is { } m ? " in " + m : "");

    // A multi-line message (a database error's) stays on its line.
    private static string OneLine(string message) => message.ReplaceLineEndings(" | ");
}
