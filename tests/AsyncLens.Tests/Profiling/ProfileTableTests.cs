using AsyncLens.Profiling;
using Xunit;

namespace AsyncLens.Tests.Profiling;

/// <summary>The profile table fitted to a width: no line wider, names cut from the left, whole when they fit.</summary>
public sealed class ProfileTableTests
{
    private const string Long = "Task.Run(Warehouse.Replenishment.Scheduler.ReplenishAllAsync lambda at Scheduler.cs:128)";
    private const string Params = "Tracing.SendAsync(HttpRequestMessage, CancellationToken, IReadOnlyDictionary<string, string>)";

    private static AsyncProfile Profile() => new RecordedEvents()
        .Begin(1, 0.0, 1, "Async: <Short>d__0")
        .Begin(1, 0.1, 2, $"Async: <{Long}>d__1").Wait(1, 0.2, 2, 1)
        .Begin(1, 0.3, 3, $"Async: <{Params}>d__2")
        .Step(2, 1.0, 2).End(2, 2.0, 2).Notify(2, 2.1, 2).Step(2, 2.2, 1).End(2, 3.0, 1).EndStep(2, 3.1).EndStep(2, 3.2).EndStep(2, 3.3)
        .Stop(10);

    private static string[] Write(int width)
    {
        var text = new StringWriter();
        Profile().Write(text, AsyncProfileFormat.Text, width);
        return text.ToString().Split('\n');
    }

    [Fact]
    public void A_table_wider_than_its_width_gets_two_line_headers_and_names_shortened_where_they_say_least()
    {
        var lines = Write(120);
        Assert.All(lines, line => Assert.True(line.Length <= 120, $"{line.Length}: {line}"));
        // A lambda's line is in the AT column; parameter types go before the method's name does.
        Assert.Contains(lines, l => l.StartsWith("Task.Run(….Scheduler.ReplenishAllAsync lambda) ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Tracing.SendAsync(…) ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("METHOD ", StringComparison.Ordinal) && l.Contains("  ON-THREAD s", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.TrimStart().StartsWith("WALL", StringComparison.Ordinal));
    }

    [Fact]
    public void A_name_still_too_long_without_its_parameters_is_cut_from_the_left()
    {
        // Its name up to the parameters is wider than the column: before, cutting the parameters again and again
        // overflowed the stack (a framework method's name on .NET 11, profiled into a file: 120 columns).
        const string Name = "Warehouse.Replenishment.Scheduling.Coordinator.ReplenishEverythingEverywhereAsync(int, CancellationToken)";
        var text = new StringWriter();
        new RecordedEvents().Begin(1, 0.0, 1, $"Async: <{Name}>d__0").Stop(10).Write(text, AsyncProfileFormat.Text, 100);
        var lines = text.ToString().Split('\n');
        Assert.All(lines, line => Assert.True(line.Length <= 100, $"{line.Length}: {line}"));
        Assert.Contains(lines, l => l.StartsWith('…') && l.Contains("EverywhereAsync(…) ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_table_that_fits_is_written_whole_with_one_line_headers()
    {
        var lines = Write(400);
        Assert.Contains(lines, l => l.StartsWith(Long + " ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("METHOD ", StringComparison.Ordinal) && l.Contains("INCL ON-THREAD s", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Short ", StringComparison.Ordinal) && l.Contains(" " + Long + " ", StringComparison.Ordinal));
    }
}
