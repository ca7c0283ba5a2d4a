using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Repeats of one site coalesce (issue 13, item 8): the first report of a site in full, then a count per interval.
/// Eight requests whose background task fails the same way, on the web service.
/// </summary>
public sealed partial class FloodTests
{
    private static readonly SourceMarkers s_shop = new(Repo.Source("tests", "RealApps", "ShopApi"));

    private static async Task EightReindexes(HttpClient http)
    {
        for (var i = 0; i < 8; i++)
            (await http.PostAsync("/bug/reindex", null)).EnsureSuccessStatusCode();
        await Task.Delay(1500);
    }

    [Fact]
    public void In_text_the_first_is_reported_in_full_and_the_seven_repeats_in_one_line()
    {
        var result = ShopApiRuns.Run("Release", EightReindexes, json: false);
        Assert.True(result.ExitCode == 0, result.ToString());
        var throwSite = $"{s_shop["shop.reindex.throw"].File}:{s_shop["shop.reindex.throw"].Line}";
        var firstLines = result.Stderr.Split('\n').Where(l => l.StartsWith("asynclens: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, firstLines.Count);
        Assert.StartsWith("asynclens: unobserved-exception: SearchIndex.ReindexAsync() faulted with InvalidOperationException: the search index is read-only", firstLines[0]);
        Assert.Matches(
            $"^asynclens: unobserved-exception: SearchIndex\\.ReindexAsync\\(\\) at {Regex.Escape(throwSite)}: 7 more times in the last [0-9]+\\.[0-9] s \\(the first was reported in full; repeats of one site are counted, not shown\\)$",
            firstLines[1]);
    }

    [Fact]
    public void In_json_every_occurrence_is_counted()
    {
        var result = ShopApiRuns.Run("Release", EightReindexes);
        Assert.True(result.ExitCode == 0, result.ToString());
        var reports = Reports.Parse(result.Stderr);
        Assert.All(reports, r => Assert.Equal(("unobserved-exception", "SearchIndex.ReindexAsync()"), (r.Kind(), r.Method())));
        var full = Assert.Single(reports, r => !r.TryGetProperty("repeats", out _));
        var throwSite = $"{s_shop["shop.reindex.throw"].File}:{s_shop["shop.reindex.throw"].Line}";
        Assert.Equal(throwSite, full.At("location"));
        var summaries = reports.Where(r => r.TryGetProperty("repeats", out _)).ToList();
        Assert.All(summaries, s => Assert.Equal(throwSite, s.At("location")));
        Assert.Equal(7, summaries.Sum(s => s.GetProperty("repeats").GetInt32()));
    }
}
