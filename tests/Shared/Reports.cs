using System.Text.Json;

namespace AsyncLens.Testing;

/// <summary>Reports parsed from the JSON format (one object per line; other lines are ignored).</summary>
internal static class Reports
{
    public static List<JsonElement> Parse(string output)
    {
        var reports = new List<JsonElement>();
        foreach (var line in output.Split('\n'))
        {
            var text = line.Trim();
            if (text.StartsWith("{\"kind\"", StringComparison.Ordinal))
                reports.Add(JsonDocument.Parse(text).RootElement.Clone());
        }
        return reports;
    }

    public static string Kind(this JsonElement r) => r.GetProperty("kind").GetString()!;

    public static string Method(this JsonElement r) => r.GetProperty("method").GetString()!;

    /// <summary>"file:line" of a location field, or null when the field is null (or absent: a summary of repeats has no createdAt).</summary>
    public static string? At(this JsonElement r, string field) =>
        r.TryGetProperty(field, out var at) && at.ValueKind == JsonValueKind.Object ? $"{at.GetProperty("file").GetString()}:{at.GetProperty("line").GetInt32()}" : null;

    /// <summary>A summary of repeats of one site (see docs/report-schema.md), not a report of its own.</summary>
    public static bool IsRepeats(this JsonElement r) => r.TryGetProperty("repeats", out _);

    public static double Duration(this JsonElement r) => r.GetProperty("durationSeconds").GetDouble();

    /// <summary>The async stack as "Method at file:line" strings, root first.</summary>
    public static List<string> Stack(this JsonElement r) =>
        r.GetProperty("asyncStack").EnumerateArray()
            .Select(f => f.GetProperty("file").ValueKind == JsonValueKind.Null
                ? f.GetProperty("method").GetString()!
                : $"{f.GetProperty("method").GetString()} at {f.GetProperty("file").GetString()}:{f.GetProperty("line").GetInt32()}")
            .ToList();

    /// <summary>Asserts <paramref name="expected"/> equals <paramref name="actual"/>, showing the whole report if not.</summary>
    public static void Same<T>(T expected, T actual, JsonElement report)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new Xunit.Sdk.XunitException($"expected {expected}, got {actual} in {report.GetRawText()}");
    }

    /// <summary>"file:line in Method" of the report's createdAt, or null when it has none.</summary>
    public static string? CreatedAtIn(this JsonElement r) =>
        r.GetProperty("createdAt") is { ValueKind: JsonValueKind.Object } created ? $"{r.At("createdAt")} in {created.GetProperty("method").GetString()}" : null;

    public static string Describe(IEnumerable<JsonElement> reports) =>
        string.Join("\n", reports.Select(r => r.IsRepeats()
            ? $"{r.Kind()} {r.Method()} at {r.At("location")}: {r.GetProperty("repeats").GetInt32()} repeats"
            : $"{r.Kind()} {r.Method()} at {r.At("location")} created {r.At("createdAt")}"));
}
