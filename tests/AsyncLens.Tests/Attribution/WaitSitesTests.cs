using System.Reflection;
using AsyncLens.Attribution;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Attribution;

/// <summary>
/// The code that made a blocking wait: the first frame of the user's on the waiting thread's stack, or, when a
/// handler's last act was the wait (a tail call took its frame away), the ASP.NET Core handler that was running.
/// </summary>
public sealed class WaitSitesTests
{
    private static readonly MethodInfo s_handler = StretchLocatorTests.Kickoff(nameof(Samples.SyncHandler));
    private static readonly MethodInfo s_resultGetter = typeof(Task<int>).GetProperty(nameof(Task<int>.Result))!.GetMethod!;

    [Fact]
    public void The_first_frame_of_the_users_code_waited()
    {
        var caller = StretchLocatorTests.Kickoff(nameof(Samples.ResultAsync));
        var waiter = WaitSites.Waiter([(s_resultGetter, 0), (caller, 12)], handler: null);
        Assert.Equal((caller, 12), waiter);
        Assert.Equal((s_handler, 3), WaitSites.Waiter([(s_resultGetter, 0), (s_handler, 3), (caller, 12)], s_handler));
    }

    [Fact]
    public void A_wait_inside_a_packages_api_is_the_apps_call_of_that_api_with_its_async_twin_as_the_fix()
    {
        // The package's frame (xunit's Assert, a package of this test project) is not the code to change: the app's
        // frame below it is, at its call of the package, even while a handler ran (its frame is not missing: the app's
        // frame called what waited).
        var caller = StretchLocatorTests.Kickoff(nameof(Samples.CallsPackage));
        var package = typeof(Assert).GetMethod(nameof(Assert.True), [typeof(bool)])!;
        Assert.Equal(CodeKind.Package, CodeOrigin.Kind(package.Module.Assembly));
        var waiter = WaitSites.Waiter([(s_resultGetter, 0), (package, 4), (caller, 0)], s_handler);
        Assert.NotNull(waiter);
        Assert.Equal(caller, waiter.Value.Method);
        Assert.Equal(StretchLocatorTests.Line("sample.package.call"), MethodSymbols.LineAt(caller, waiter.Value.ILOffset)?.Line);

        // A library API with an async twin names the twin; the app's own wait (.Result) keeps the generic fix.
        var send = StretchLocatorTests.Kickoff(nameof(Samples.SendSync));
        var sendCall = MethodSymbols.Calls(send).Single(c => c.Target.Name == nameof(HttpClient.Send)).Offset;
        Assert.Equal("`HttpClient.Send` blocks the thread (it waits for a task inside System.Net.Http): use `await HttpClient.SendAsync(...)`",
            FixHints.ForWaitInside(send, sendCall));
        Assert.Null(FixHints.ForWaitInside(s_resultGetter, 0));
        Assert.Null(FixHints.ForWaitInside(StretchLocatorTests.Kickoff(nameof(Samples.CallsPackage)), -1));
    }

    [Fact]
    public void A_wait_with_nothing_of_the_apps_on_its_stack_in_no_step_or_request_of_the_apps_is_the_librarys_own()
    {
        // Akka.NET's scheduler starting its worker on first use, in a continuation of its own on a pool thread:
        // Task.Wait() in the package's method (xunit's Assert stands for it), under the framework's dispatch loop.
        var wait = typeof(Task).GetMethod(nameof(Task.Wait), Type.EmptyTypes);
        var package = typeof(Assert).GetMethod(nameof(Assert.True), [typeof(bool)]);
        var dispatch = typeof(ThreadPool).GetMethod(nameof(ThreadPool.QueueUserWorkItem), [typeof(WaitCallback)]);
        Assert.True(WaitSites.LibrarysOwn([wait, package, dispatch, null], stepCode: null, inRequest: false));
        // Run by a delegate of the package's (its termination callbacks stopping that worker): still its own.
        Assert.True(WaitSites.LibrarysOwn([wait, package], stepCode: typeof(Assert), inRequest: false));
        // A frame of the app's, the app's step or delegate around it, or a request's handler running: the app's wait.
        var caller = StretchLocatorTests.Kickoff(nameof(Samples.CallsPackage));
        Assert.False(WaitSites.LibrarysOwn([wait, package, caller], stepCode: null, inRequest: false));
        Assert.False(WaitSites.LibrarysOwn([wait, package], stepCode: StretchLocatorTests.Machine(nameof(Samples.ResultAsync)), inRequest: false));
        Assert.False(WaitSites.LibrarysOwn([wait, package], stepCode: null, inRequest: true));
    }

    [Fact]
    public void A_handler_missing_from_the_stack_while_it_ran_is_the_code_that_waited_at_its_wait_call()
    {
        // Kestrel's loop and a middleware of the user's above the wait, at calls that do not wait: the handler ran
        // in between, and its frame is gone.
        var middleware = StretchLocatorTests.Machine(nameof(Samples.LoadThenBranchAsync)).GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
        var waiter = WaitSites.Waiter([(s_resultGetter, 0), (typeof(Task).GetMethod(nameof(Task.Wait), Type.EmptyTypes), 0), (middleware, 40)], s_handler);
        Assert.NotNull(waiter);
        Assert.Equal(s_handler, waiter.Value.Method);
        Assert.Equal(StretchLocatorTests.Line("sample.handler.wait"), MethodSymbols.LineAt(waiter.Value.Method, waiter.Value.ILOffset)?.Line);
    }

    [Fact]
    public void A_frame_at_an_offset_before_its_first_call_is_no_wait_and_no_failure()
    {
        // Optimized code can give a frame an offset before its first call (a Release build of a synchronous MVC action,
        // once it had run a few times): there is no call at or before it. The report was lost ("could not build a
        // report: NullReferenceException").
        var middleware = StretchLocatorTests.Machine(nameof(Samples.LoadThenBranchAsync)).GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
        Assert.True(MethodSymbols.Calls(middleware)[0].Offset > 0);
        var waiter = WaitSites.Waiter([(s_resultGetter, 0), (typeof(Task).GetMethod(nameof(Task.Wait), Type.EmptyTypes), 0), (middleware, 0)], s_handler);
        Assert.NotNull(waiter);
        Assert.Equal(s_handler, waiter.Value.Method);
    }
}
