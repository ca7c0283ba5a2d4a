using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Inventory;

/// <summary>
/// <c>kill -USR1</c> on tests/RealApps/ShopApi under the startup hook while it serves a stream of requests (each a
/// call to its stock service) and holds some in flight (two parked, one continued with ContinueWith, three awaiting
/// one configuration load): the dump is taken while requests start and finish around it. Each request in flight is
/// one whole chain from Kestrel's connection down, and identical chains are one stack: a request that finished or
/// moved during the read is not left behind as an orphan stack of one frame or a chain cut in two. The load three
/// requests await is one task, marked so; the ContinueWith task waits for the task it continues.
/// On .NET 10; <see cref="BusyAppDumpNet11Tests"/> on ASP.NET Core 11.
/// </summary>
public sealed class BusyAppDumpTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "ShopApi"));

    // Frames that are never where a request's chain starts: a stack starting with one lost its callers.
    private static readonly string[] s_middle =
        ["HttpConnection.ProcessRequestsAsync", "HttpProtocol.ProcessRequests", "RequestTiming.", "RequestDelegateFactory.", "Catalog.", "InventoryClient.", "Parking."];

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public Task A_dump_of_a_busy_web_app_has_each_request_once_as_a_whole_chain(string configuration) =>
        DumpsOfABusyApp(configuration, TargetRuntime.Net10);

    /// <summary>The test, with ShopApi on <paramref name="runtime"/>.</summary>
    internal static async Task DumpsOfABusyApp(string configuration, TargetRuntime runtime)
    {
        using var dir = new TempDirectory("asynclens-busy-");
        var output = dir.File("dump.txt");
        using var shop = new RunningApp("ShopApi", configuration, new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = Repo.Engine,
            ["ASYNCLENS_TASKS"] = "1",
            ["ASYNCLENS_OUTPUT"] = output,
            ["SHOP_CONFIG_SECONDS"] = "600",
        }, runtime);
        var load3 = $"ConfigCache.LoadAsync() at {s_at["shop.config.load"].File}:{s_at.Line("shop.config.load")} <- one task awaited by 3";
        var then = $"Task.ContinueWith(Program.Main lambda at Program.cs:{s_at.Line("shop.park.then")}) at {s_at["shop.park.then"].File}:{s_at.Line("shop.park.then")} (waiting for the task it continues)";
        await shop.GetAsync("/health"); // the first request waits for the routes to be built: its chain has a frame more
        shop.Start("/park");
        shop.Start("/park");
        shop.Start("/park/then");
        for (var i = 0; i < 3; i++)
            shop.Start("/config");
        // All held before the load starts (a dump of the quiet app shows them): what follows is about the load.
        for (var wait = 0; wait < 30 && !Dumps(output).Any(d => d.Contains("\nx2\n    KestrelConnection", StringComparison.Ordinal) && d.Contains(load3, StringComparison.Ordinal) && d.Contains(then, StringComparison.Ordinal)); wait++)
        {
            var before = Dumps(output).Count;
            Signals.Send("-USR1", shop.Pid);
            for (var written = 0; written < 50 && Dumps(output).Count == before; written++)
                await Task.Delay(100);
        }
        var quiet = Dumps(output).Count;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(1, 8).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
                await shop.GetAsync($"/product/{worker * 100 + i % 50}");
        })).ToArray();
        await Task.Delay(1500);
        const int dumps = 6;
        for (var i = 0; i < dumps; i++)
        {
            Signals.Send("-USR1", shop.Pid);
            for (var wait = 0; wait < 100 && Dumps(output).Count <= quiet + i; wait++)
                await Task.Delay(100);
        }
        stop.Cancel();
        await Task.WhenAll(load);

        var all = Dumps(output).Skip(quiet).ToList();
        Assert.True(all.Count == dumps, $"expected {dumps} dumps:\n{File.ReadAllText(output)}\n{shop.Output}");
        foreach (var dump in all)
        {
            var stacks = Stacks(dump);
            Assert.False(stacks.Any(s => s_middle.Any(m => s.Frames[0].StartsWith(m, StringComparison.Ordinal))), "a stack lost its callers:\n" + dump);
            var parked = stacks.Where(s => s.Frames.Any(f => f.StartsWith("Parking.WaitAsync(CancellationToken)", StringComparison.Ordinal)) && !s.Frames.Contains(then)).ToList();
            Assert.True(parked is [{ Count: 2 } only] && only.Frames[0] == "KestrelConnection<ConnectionContext>.ExecuteAsync()", "the two parked requests are not one stack:\n" + dump);
            Assert.True(stacks.Count(s => s.Count == 3 && s.Frames[^1] == load3 && s.Frames[0] == "KestrelConnection<ConnectionContext>.ExecuteAsync()") == 1, "the three requests awaiting one load:\n" + dump);
            Assert.True(stacks.Count(s => s.Count == 1 && s.Frames.Contains(then)) == 1, "the ContinueWith request:\n" + dump);
        }
    }

    private static List<string> Dumps(string path)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "";
        var dumps = new List<string>();
        foreach (var part in text.Split("asynclens: ", StringSplitOptions.RemoveEmptyEntries))
        {
            // A dump is written in one piece: one still being written has not reached its last stack's end.
            if (part.Contains(" async stacks (pid ", StringComparison.Ordinal) && part.EndsWith('\n'))
                dumps.Add("asynclens: " + part);
        }
        return dumps;
    }

    private static List<(int Count, List<string> Frames)> Stacks(string dump) =>
        dump.Split("\n\n").Skip(1).Select(block => block.Trim('\n').Split('\n')).Where(lines => lines.Length >= 2 && lines[0].StartsWith('x'))
            .Select(lines => (int.Parse(lines[0][1..], System.Globalization.CultureInfo.InvariantCulture), lines[1..^1].Select(l => l.Trim()).ToList()))
            .Where(s => s.Item2.Count > 0)
            .ToList();
}

/// <summary>
/// The same with ShopApi and the startup hook on ASP.NET Core 11 / .NET 11 (the suite's second leg). Every request's
/// chain passes through Kestrel, which ASP.NET Core 11 compiles with runtime async: its frames are continuations,
/// and shared generic ones are named with the instantiation their held objects tell
/// (<c>KestrelConnection&lt;ConnectionContext&gt;.ExecuteAsync()</c>, as the .NET 10 box's type names it).
/// </summary>
public sealed class BusyAppDumpNet11Tests
{
    [Theory]
    [InlineData("Release")]
    public Task A_dump_of_a_busy_web_app_has_each_request_once_as_a_whole_chain(string configuration) =>
        BusyAppDumpTests.DumpsOfABusyApp(configuration, TargetRuntime.Net11);
}
