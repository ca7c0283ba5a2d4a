using AsyncLens.Testing;
using static AsyncLens.Testing.Reports;
using Xunit;

namespace AsyncLens.Tests.RealApps;

/// <summary>
/// Debug mode on an Orleans silo (tests/RealApps/Grains: Orleans 10 in a Generic Host, localhost clustering, Polly
/// retries inside a grain), Debug and Release builds. A grain's turn computing a bundle's price inside a Polly retry is
/// a slow-step at its line, created in the grain method; a checkout blocking on another grain's call is a blocking-wait
/// at its `.Result`, with no creation site: Orleans' message loop runs the grain method, and where that loop was created
/// (the grain's first call, for every later one) says nothing of this call. Orleans' own ways, at deactivation and
/// shutdown, stay silent: the message loops it drops with a deactivated grain (were pending-collected reports), and the
/// TaskCompletionSources it faults when the host disposes its membership services (were unobserved-exception reports
/// naming Host.DisposeAsync()).
/// </summary>
public sealed class GrainsTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Grains"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_grain_turn_that_computes_or_blocks_is_named_and_Orleans_own_ways_stay_silent(string configuration)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Grains", configuration)],
            new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1", ["ASYNCLENS_FORMAT"] = "json" });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("grains done", result.Stdout);
        var reports = Reports.Parse(result.Stderr);
        var full = reports.Where(r => !r.IsRepeats()).ToList();
        Assert.True(full.Count == 2 && full.Any(r => r.Kind() == "slow-step") && full.Any(r => r.Kind() == "blocking-wait"), Reports.Describe(reports));

        // The bundle is priced twice (adding it, checking out): the second is counted as a repeat of the first's site.
        var price = full.Single(r => r.Kind() == "slow-step");
        Assert.StartsWith("PricingGrain.PriceOf lambda at Grains.cs:", price.Method());
        Same(At("grains.price.bundle"), price.At("location"), price);
        Same($"{At("grains.price.retry")} in PricingGrain.PriceOf(string)", price.CreatedAtIn(), price);
        Same("`PricingGrain.BundlePrice(string)` runs on the async path for the whole stretch: if it is CPU-bound, move it off with "
            + "`await Task.Run(() => ...)`; if it does I/O, call its async API", price.GetProperty("fix").GetString(), price);

        var wait = full.Single(r => r.Kind() == "blocking-wait");
        Same("CartGrain.Checkout()", wait.Method(), wait);
        Same(At("grains.checkout.wait"), wait.At("location"), wait);
        Same(null, wait.CreatedAtIn(), wait);
        Same($"CartGrain.Checkout() at {At("grains.checkout.wait")}", wait.Stack()[^1], wait);
    }



    private static string At(string tag) => $"{s_at[tag].File}:{s_at[tag].Line}";
}
