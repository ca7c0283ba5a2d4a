using AsyncLens.Cli.Hosting;
using Xunit;

namespace AsyncLens.Cli.Tests;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("250", 250)]
    [InlineData("1s", 1000)]
    [InlineData("0.5s", 500)]
    [InlineData("2m", 120_000)]
    [InlineData(" 40MS ", 40)]
    public void Parses_durations(string text, double milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(milliseconds, duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("fast")]
    [InlineData("0")]
    [InlineData("-5ms")]
    [InlineData("NaN")]
    [InlineData("3d")]
    [InlineData("100000m")]
    public void Rejects_what_is_not_a_positive_duration(string text) => Assert.False(Durations.TryParse(text, out _));
}
