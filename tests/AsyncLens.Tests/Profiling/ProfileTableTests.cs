using AsyncLens.Profiling;
using Xunit;

namespace AsyncLens.Tests.Profiling;

/// <summary>The profile table fitted to a width: no line wider, names cut from the left, whole when they fit.</summary>
public sealed class ProfileTableTests
{
    private const string Long = "Task.Run(Warehouse.Replenishment.Scheduler.ReplenishAllAsync lambda at Scheduler.cs:128)";

    private static AsyncProfile Profile() => new RecordedEvents()
        .Begin(1, 0.0, 1, "Async: <Short>d__0")
        .Begin(1, 0.1, 2, $"Async: <{Long}>d__1").Wait(1, 0.2, 2, 1)
        .Step(2, 1.0, 2).End(2, 2.0, 2).Notify(2, 2.1, 2).Step(2, 2.2, 1).End(2, 3.0, 1).EndStep(2, 3.1).EndStep(2, 3.2).EndStep(2, 3.3)
        .Stop(10);

    private static string[] Write(int width)
    {
        var text = new StringWriter();
        Profile().Write(text, AsyncProfileFormat.Text, width);
        return text.ToString().Split('\n');
    }

    [Fact]
    public void A_table_wider_than_its_width_gets_two_line_headers_and_names_cut_from_the_left()
    {
        var lines = Write(120);
        Assert.All(lines, line => Assert.True(line.Length <= 120, $"{line.Length}: {line}"));
        var row = Assert.Single(lines, l => l.Contains("Scheduler.cs:128)", StringComparison.Ordinal) && !l.StartsWith("Short", StringComparison.Ordinal));
        Assert.StartsWith("…", row, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("METHOD ", StringComparison.Ordinal) && l.Contains("  ON-THREAD s", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.TrimStart().StartsWith("WALL", StringComparison.Ordinal));
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
