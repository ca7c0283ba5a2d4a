using AsyncLens.Cli.Remote;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>How a thread's frames are shown (<see cref="ThreadStacks.ForPeople"/>), on frames as the reader makes them.</summary>
public sealed class ThreadFramesForPeopleTests
{
    private static ThreadFrame Start(string builder) =>
        new("AsyncMethodBuilderCore.Start<TStateMachine>(ref TStateMachine)", null, "System.Private.CoreLib.dll", RuntimeName: $"System.Runtime.CompilerServices.{builder}.Start[[Npgsql.Internal.NpgsqlConnector+<ReadMessageLong>d__234, Npgsql]]");

    [Fact]
    public void An_async_methods_first_step_is_its_frame_once_without_the_builders_start_and_its_stub()
    {
        // Npgsql's synchronous read, as `asynclens threads` read it in an ASP.NET Core app: each async method that ran
        // synchronously showed as its MoveNext, two builder Start frames, and its stub of the same name.
        var read = new ThreadFrame("NpgsqlReadBuffer.Ensure+EnsureLong(NpgsqlReadBuffer, int, bool, bool)", null, "Npgsql.dll", RuntimeName: "Npgsql.Internal.NpgsqlReadBuffer+<<Ensure>g__EnsureLong|1>d.MoveNext");
        var readStub = read with { RuntimeName = "Npgsql.Internal.NpgsqlReadBuffer.<Ensure>g__EnsureLong|1" };
        var handler = new ThreadFrame("RequestTiming.InvokeAsync(HttpContext)", new SourceLine("/src/Hosting.cs", 16), "Shop.dll", App: true);
        var handlerStub = handler with { At = null };
        var caller = new ThreadFrame("HttpProtocol.ProcessRequests<TContext>(IHttpApplication<TContext>)", null, "Microsoft.AspNetCore.Server.Kestrel.Core.dll");
        var receive = new ThreadFrame("Socket.Receive(byte[], int, int, SocketFlags)", null, "System.Net.Sockets.dll");

        Assert.Equal(
            [receive, read, handler, caller],
            ThreadStacks.ForPeople([receive, read, Start("AsyncMethodBuilderCore"), Start("PoolingAsyncValueTaskMethodBuilder`1"), readStub, handler, Start("AsyncMethodBuilderCore"), handlerStub, caller]));
    }

    [Fact]
    public void A_start_whose_next_frame_is_another_method_leaves_that_frame()
    {
        // Not a stub of the method above (a frame the unwinder did not give): only the Start goes.
        var step = new ThreadFrame("Worker.RunAsync()", new SourceLine("/src/Worker.cs", 9), "Worker.dll", App: true);
        var other = new ThreadFrame("Program.Main(string[])", new SourceLine("/src/Program.cs", 3), "Worker.dll", App: true);

        Assert.Equal([step, other], ThreadStacks.ForPeople([step, Start("AsyncTaskMethodBuilder`1"), other]));
        Assert.Equal([step], ThreadStacks.ForPeople([step]));
        Assert.Empty(ThreadStacks.ForPeople([]));
    }
}
