using System.Globalization;

namespace AsyncLens.Cli.Hosting;

/// <summary>Durations on the command line: <c>250ms</c>, <c>1.5s</c>, <c>2m</c>, or a bare number of milliseconds.</summary>
internal static class Durations
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        var s = text.Trim().ToLowerInvariant();
        (string number, double scale) = s switch
        {
            _ when s.EndsWith("ms", StringComparison.Ordinal) => (s[..^2], 1.0),
            _ when s.EndsWith('s') => (s[..^1], 1000.0),
            _ when s.EndsWith('m') => (s[..^1], 60_000.0),
            _ => (s, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value) || value <= 0 || value * scale > TimeSpan.FromDays(1).TotalMilliseconds)
            return false;
        duration = TimeSpan.FromMilliseconds(value * scale);
        return true;
    }

    public static string Format(TimeSpan duration) => duration.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
}
