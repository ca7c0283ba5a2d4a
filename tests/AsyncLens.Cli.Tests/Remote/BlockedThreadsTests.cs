using AsyncLens.Cli.Remote;
using AsyncLens;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>Where a thread blocked on a task is said to block (<see cref="BlockedThreads.WhereItBlocks"/>), on frames as the reader makes them.</summary>
public sealed class BlockedThreadsTests
{
    private static readonly ThreadFrame s_wait = new("ManualResetEventSlim.Wait(int, CancellationToken)", null, "System.Private.CoreLib.dll", RuntimeName: "System.Threading.ManualResetEventSlim.Wait");

    [Fact]
    public void The_user_s_frame_under_a_package_frame_that_has_a_line()
    {
        var package = new ThreadFrame("RedisClient.Get(string)", new SourceLine("/_/src/RedisClient.cs", 88), "Redis.Client.dll");
        var user = new ThreadFrame("Orders.Load(int)", new SourceLine("/src/Orders.cs", 12), "Shop.dll", App: true);

        Assert.Same(user, BlockedThreads.WhereItBlocks([s_wait, package, user]));
    }

    [Fact]
    public void The_user_s_frame_without_a_line_before_a_package_s_with_one()
    {
        var package = new ThreadFrame("Pool.Rent()", new SourceLine("/_/src/Pool.cs", 40), "Pooling.dll");
        var user = new ThreadFrame("Worker.Loop()", null, "Worker.dll", App: true);

        Assert.Same(user, BlockedThreads.WhereItBlocks([s_wait, user, package]));
    }

    [Fact]
    public void Without_the_user_s_code_the_first_frame_with_a_line_then_outside_the_runtime()
    {
        var package = new ThreadFrame("RedisClient.Get(string)", new SourceLine("/_/src/RedisClient.cs", 88), "Redis.Client.dll");
        var dynamic = new ThreadFrame("lambda_method12(Closure, object)", null, null);
        var library = new ThreadFrame("Formatter.Write()", null, "Formatting.dll");

        Assert.Same(package, BlockedThreads.WhereItBlocks([s_wait, dynamic, package]));
        Assert.Same(library, BlockedThreads.WhereItBlocks([s_wait, dynamic, library]));
        Assert.Same(s_wait, BlockedThreads.WhereItBlocks([s_wait]));
        Assert.Null(BlockedThreads.WhereItBlocks([]));
    }
}
