using AsyncLens.Reporting;
using Xunit;

namespace AsyncLens.Tests.Reporting;

/// <summary>The exact text and JSON of a report (docs/report-schema.md documents both).</summary>
public sealed class FormatterTests
{
    private static readonly AsyncReport s_slow = new()
    {
        Kind = AsyncReportKinds.SlowStep,
        TaskId = 12,
        ThreadId = 7,
        Method = "Shop.FetchUser(int)",
        Location = new SourceLine("/src/Shop.cs", 15),
        ResumedAt = new SourceLine("/src/Shop.cs", 14),
        StoppedAt = new SourceLine("/src/Shop.cs", 17),
        CreatedAt = new SourceLine("/src/Program.cs", 30, "Program.Main(string[])"),
        DurationSeconds = 0.523,
        AsyncStack = [new AsyncStackFrame("Program.Main(string[])", "/src/Program.cs", 30), new AsyncStackFrame("Shop.FetchUser(int)", "/src/Shop.cs", 14)],
        Message = "Shop.FetchUser(int) ran 0.523 s on thread 7 without yielding (task 12)",
        Fix = "`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`",
        Timestamp = new DateTimeOffset(2026, 11, 21, 10, 0, 0, 123, TimeSpan.Zero),
    };

    [Fact]
    public void Text_is_a_block_that_starts_with_the_kind()
    {
        Assert.Equal(
            """
            asynclens: slow-step: Shop.FetchUser(int) ran 0.523 s on thread 7 without yielding (task 12)
              at /src/Shop.cs:15
              ran from /src/Shop.cs:14 (resumed here) to /src/Shop.cs:17 (stopped here)
              created at /src/Program.cs:30 in Program.Main(string[])
              async stack (root first):
                Program.Main(string[]) at /src/Program.cs:30
                Shop.FetchUser(int) at /src/Shop.cs:14
              fix: `Thread.Sleep` blocks the thread: use `await Task.Delay(...)`

            """.ReplaceLineEndings("\n"),
            TextFormatter.Format(s_slow));
    }

    // A one-line handler (`app.MapGet("/stats", (Counter c) => c.ReadSync())`) starts and ends on one line: it ended
    // there, it did not park there again (what the same line means for a step that stops at the await it resumed from).
    [Theory]
    [InlineData(true, "(ended here)")]
    [InlineData(false, "(parked here again)")]
    public void A_step_that_stops_on_the_line_it_started_says_whether_it_ended_or_parked_there(bool ended, string said)
    {
        var report = new AsyncReport
        {
            Kind = AsyncReportKinds.SlowStep,
            Method = "GET /stats",
            ResumedAt = new SourceLine("/src/Program.cs", 19),
            StoppedAt = new SourceLine("/src/Program.cs", 19),
            FirstStep = true,
            Ended = ended,
            DurationSeconds = 0.3,
            Message = "GET /stats ran 0.300 s without yielding, from its start",
        };
        Assert.Contains($"  ran from /src/Program.cs:19 (started here) to /src/Program.cs:19 {said}\n", TextFormatter.Format(report));
    }

    [Fact]
    public void Json_is_one_object_per_line_with_the_documented_fields()
    {
        Assert.Equal(
            """"
            {"kind":"slow-step","taskId":12,"threadId":7,"method":"Shop.FetchUser(int)","location":{"file":"/src/Shop.cs","line":15},"resumedAt":{"file":"/src/Shop.cs","line":14},"stoppedAt":{"file":"/src/Shop.cs","line":17},"createdAt":{"file":"/src/Program.cs","line":30,"method":"Program.Main(string[])"},"durationSeconds":0.523,"asyncStack":[{"method":"Program.Main(string[])","file":"/src/Program.cs","line":30},{"method":"Shop.FetchUser(int)","file":"/src/Shop.cs","line":14}],"message":"Shop.FetchUser(int) ran 0.523 s on thread 7 without yielding (task 12)","fix":"`Thread.Sleep` blocks the thread: use `await Task.Delay(...)`","timestamp":"2026-11-21T10:00:00.123Z"}

            """".ReplaceLineEndings("\n"),
            JsonFormatter.Format(s_slow));
    }

    [Fact]
    public void Unknown_parts_are_said_plainly_and_null_in_json()
    {
        var report = new AsyncReport
        {
            Kind = AsyncReportKinds.UnobservedException,
            TaskId = 3,
            Method = "Worker.RunAsync()",
            Exception = new ExceptionInfo("System.InvalidOperationException", "boom", null),
            Message = "Worker.RunAsync() faulted with InvalidOperationException: boom, and nothing awaited it or read its exception (task 3)",
            Timestamp = DateTimeOffset.UnixEpoch,
        };
        Assert.Equal(
            """
            asynclens: unobserved-exception: Worker.RunAsync() faulted with InvalidOperationException: boom, and nothing awaited it or read its exception (task 3)
              created at: unknown (before debug mode started, or by framework code)
              exception: System.InvalidOperationException: boom

            """.ReplaceLineEndings("\n"),
            TextFormatter.Format(report));
        var json = JsonFormatter.Format(report);
        Assert.Contains("\"location\":null,\"createdAt\":null,", json);
        Assert.Contains("\"exception\":{\"type\":\"System.InvalidOperationException\",\"message\":\"boom\",\"stackTrace\":null}", json);
    }

    [Fact]
    public void A_message_of_several_lines_stays_inside_the_block()
    {
        // Npgsql's PostgresException: "42P01: relation \"shipments\" does not exist\n\nPOSITION: 8".
        var report = new AsyncReport
        {
            Kind = AsyncReportKinds.UnobservedException,
            TaskId = 44,
            Method = "Bugs.MarkShippedAsync(NpgsqlDataSource, int)",
            Location = new SourceLine("/src/Bugs.cs", 56, "Bugs.MarkShippedAsync(NpgsqlDataSource, int)"),
            Exception = new ExceptionInfo("Npgsql.PostgresException", "42P01: relation \"shipments\" does not exist\r\n\r\nPOSITION: 8", "   at Bugs.MarkShippedAsync()"),
            Message = "Bugs.MarkShippedAsync(NpgsqlDataSource, int) faulted with PostgresException: 42P01: relation \"shipments\" does not exist, and nothing awaited it or read its exception (task 44)",
            Timestamp = DateTimeOffset.UnixEpoch,
        };
        Assert.Equal(
            """
            asynclens: unobserved-exception: Bugs.MarkShippedAsync(NpgsqlDataSource, int) faulted with PostgresException: 42P01: relation "shipments" does not exist, and nothing awaited it or read its exception (task 44)
              thrown at /src/Bugs.cs:56 in Bugs.MarkShippedAsync(NpgsqlDataSource, int)
              created at: unknown (before debug mode started, or by framework code)
              exception: Npgsql.PostgresException: 42P01: relation "shipments" does not exist
                POSITION: 8
                at Bugs.MarkShippedAsync()

            """.ReplaceLineEndings("\n"),
            TextFormatter.Format(report));
    }

    private static readonly AsyncReport s_repeats = new()
    {
        Kind = AsyncReportKinds.SlowStep,
        TaskId = 40,
        Method = "Shop.FetchUser(int)",
        Location = new SourceLine("/src/Shop.cs", 15),
        DurationSeconds = 0.611,
        Repeats = 38,
        RepeatsSince = new DateTimeOffset(2026, 11, 21, 10, 0, 0, 0, TimeSpan.Zero),
        Message = "Shop.FetchUser(int) at /src/Shop.cs:15: 38 more times in the last 10.0 s, the longest 0.611 s (the first was reported in full; repeats of one site are counted, not shown)",
        Timestamp = new DateTimeOffset(2026, 11, 21, 10, 0, 10, 0, TimeSpan.Zero),
    };

    [Fact]
    public void Repeats_of_a_site_are_one_line_of_text()
    {
        Assert.Equal(
            """
            asynclens: slow-step: Shop.FetchUser(int) at /src/Shop.cs:15: 38 more times in the last 10.0 s, the longest 0.611 s (the first was reported in full; repeats of one site are counted, not shown)

            """.ReplaceLineEndings("\n"),
            TextFormatter.Format(s_repeats));
    }

    [Fact]
    public void Repeats_of_a_site_are_one_json_object_with_their_count()
    {
        Assert.Equal(
            """"
            {"kind":"slow-step","method":"Shop.FetchUser(int)","location":{"file":"/src/Shop.cs","line":15},"repeats":38,"since":"2026-11-21T10:00:00.000Z","longestSeconds":0.611,"message":"Shop.FetchUser(int) at /src/Shop.cs:15: 38 more times in the last 10.0 s, the longest 0.611 s (the first was reported in full; repeats of one site are counted, not shown)","timestamp":"2026-11-21T10:00:10.000Z"}

            """".ReplaceLineEndings("\n"),
            JsonFormatter.Format(s_repeats));
    }
}
