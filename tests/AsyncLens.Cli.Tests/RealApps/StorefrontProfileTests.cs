using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.RealApps;

/// <summary>
/// The profiler on a real application: tests/RealApps/Storefront (ASP.NET Core, Npgsql + Dapper on PostgreSQL,
/// StackExchange.Redis on redis-server, IHttpClientFactory) under a bounded load, profiled in process and from outside,
/// stopped the way a server is (SIGTERM, Ctrl+C), in Debug and Release builds. Its calls that waited and its call edges,
/// which it counts itself, must be the profile's, exactly; no package or framework code is listed; lambdas are named by
/// their route (in process) or by their method and line (from outside).
/// </summary>
public sealed class StorefrontProfileTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "Storefront"));

    // The app's names for its lambdas, as the profile names them in process (the route of a minimal-API handler).
    private static string InProcess(string name) => name switch
    {
        "lambda:store.product" => "GET /product/{id:int}",
        "lambda:store.products" => "GET /products",
        "lambda:store.restock" => "POST /restock/{id:int}",
        "lambda:store.restock.run" => $"Task.Run(Restocking.RunAsync lambda at Catalog.cs:{s_at.Line("store.restock.run")})",
        _ => name,
    };

    // From outside the routes are not known: the method that holds the lambda, and its line.
    private static string FromOutside(string name) => name.StartsWith("lambda:", StringComparison.Ordinal)
        ? name == "lambda:store.restock.run"
            ? InProcess(name)
            : $"Program.Main lambda at Program.cs:{s_at.Line(name["lambda:".Length..])}"
        : name;

    private static readonly HashSet<string> s_beforeLoad = ["Program.Main(string[])", "Store.ConnectAsync()"];

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void An_ASP_NET_Core_app_under_load_stopped_with_SIGTERM_has_the_calls_and_edges_it_counted_itself(string configuration)
    {
        using var dir = new TempDirectory("asynclens-storefront-");
        var path = dir.File("profile.txt");
        using var run = new StorefrontRun([ChildProcess.DotnetPath(), Repo.Cli, "profile", "-o", path, "--", Repo.Program("Storefront", configuration)]);
        run.Load();
        Signals.Send("-TERM", run.Pid);

        Assert.Equal(143, run.WaitForExit());
        Assert.Matches($@"\nasynclens: stopped by SIGTERM after \d+\.\d s \(the program's exit code: 0\): the profile of what ran was written to {Regex.Escape(path)}\n$", "\n" + run.Stderr);
        var table = File.ReadAllText(path);
        CallCounts.Check(run.CountsAtStop(), table, InProcess, s_beforeLoad);
        // The app waited on Npgsql, Dapper and StackExchange.Redis: folded into its methods, none of them a row.
        Assert.DoesNotMatch(@"(?m)^(Npgsql|Dapper|StackExchange|Microsoft|System)\.", table);
        // Its price lookups that hit the dictionary returned without waiting: no event, not in the profile's calls.
        Assert.True(CallCounts.Parse(run.CountsAtStop(), "synchronous", InProcess).GetValueOrDefault("Catalog.GetPriceAsync(int)") > 0, run.CountsAtStop());
    }

    [Fact]
    public void Ctrl_C_on_a_profiled_server_writes_its_profile_and_exits_130()
    {
        using var dir = new TempDirectory("asynclens-storefront-");
        var path = dir.File("profile.txt");
        // In a process group of its own, as a terminal's foreground job: Ctrl+C reaches asynclens and the server.
        using var run = new StorefrontRun([ChildProcess.DotnetPath(), Repo.Cli, "profile", "-o", path, "--", Repo.Program("Storefront")], newGroup: true);
        run.Load();
        Signals.SendToGroup("-INT", run.Pid);

        Assert.Equal(130, run.WaitForExit());
        Assert.Matches($@"\nasynclens: interrupted \(Ctrl\+C\) after \d+\.\d s \(the program's exit code: \d+\): the profile of what ran was written to {Regex.Escape(path)}\n$", "\n" + run.Stderr);
        CallCounts.Check(run.CountsAtStop(), File.ReadAllText(path), InProcess, s_beforeLoad);
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void An_ASP_NET_Core_app_profiled_from_outside_has_the_calls_and_edges_it_counted_itself(string configuration)
    {
        using var dir = new TempDirectory("asynclens-storefront-");
        var path = dir.File("profile.txt");
        using var app = new StorefrontRun([ChildProcess.DotnetPath(), Repo.Program("Storefront", configuration)]);
        using var profiler = new AttachedProcessProfile(app.AppPid, "-o", path);
        app.ResetCounts();
        app.Load();
        var counts = app.Counts();
        var result = profiler.Interrupt();

        Assert.True(result.ExitCode == 0, result.ToString());
        CallCounts.Check(counts, File.ReadAllText(path), FromOutside, new HashSet<string>());
    }
}
