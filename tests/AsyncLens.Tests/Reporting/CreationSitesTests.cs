using System.Diagnostics;
using System.Reflection;
using AsyncLens.Reporting;
using AsyncLens.Symbols;
using AsyncLens.Testing;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Reporting;

/// <summary>
/// Where a task was created, from the real stack sampled as it was: a request's handler whose frame is not on it (in
/// Release, a minimal-API lambda inlined into the delegate ASP.NET Core compiles for its endpoint) is named at its call
/// of the method, which the method's call sites alone do not tell when it has more than one. A method no code calls, of
/// a class the app registered at one call (<c>MapGrpcService&lt;T&gt;()</c>), was created at that call.
/// </summary>
public sealed class CreationSitesTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "AsyncLens.Tests", "Reporting"));
    private static readonly MethodInfo s_target = typeof(Shop).GetMethod(nameof(Shop.ReindexAsync))!;
    private static readonly MethodInfo s_handler = typeof(Shop).GetMethod(nameof(Shop.Reindex))!;

    [Fact]
    public void A_handler_missing_from_the_creation_stack_is_named_at_its_call_of_the_method()
    {
        // Started by reflection: no frame on the stack calls the method, as none did around the inlined handler.
        var frames = Shop.StartByReflection();
        var call = (s_at["creation.handler.call"].File, s_at["creation.handler.call"].Line);
        Assert.Equal(call, Line(CreationSites.FromStack(frames, s_target, TaskOrigin.AsyncMethod, s_handler)));

        // Without it: two callers, no one call site; the first frame of the app's that led there (the middleware's
        // `await next(context)` in the app, this test's helper here), as near as the stack tells.
        var helper = CreationSites.FromStack(frames, s_target, TaskOrigin.AsyncMethod);
        Assert.NotNull(helper);
        Assert.NotEqual(call, Line(helper));
        Assert.Equal(MethodNames.Format(typeof(Shop).GetMethod(nameof(Shop.StartByReflection))!), helper.Method);

        // No frame of the app's but the created method's own (no middleware of the app's around the handler): the
        // handler's call still; nothing without it.
        var bare = frames.Where(f => f.GetMethod() is not { } m || !CodeOrigin.IsAppCode(m.Module.Assembly) || IsTarget(m)).ToArray();
        Assert.Equal(call, Line(CreationSites.FromStack(bare, s_target, TaskOrigin.AsyncMethod, s_handler)));
        Assert.Null(CreationSites.FromStack(bare, s_target, TaskOrigin.AsyncMethod));
    }

    [Fact]
    public void A_method_no_code_calls_was_created_where_the_app_registered_its_class()
    {
        var sites = new CreationSites(static _ => null);
        SourceLine? Created(Type type, string method) => sites.Resolve(null, type.GetMethod(method), null);

        // Run by a framework (a gRPC service's method, a hub's, a hosted service's): the one call passing its class as
        // a generic type argument.
        var registered = Created(typeof(Jobs.Refresher), nameof(Jobs.Refresher.RefreshAsync));
        Assert.Equal((s_at["creation.registered"].File, s_at["creation.registered"].Line), Line(registered));
        Assert.Equal(MethodNames.Format(typeof(Jobs).GetMethod(nameof(Jobs.Wire))!), registered?.Method);

        // A method of that class the app calls: its call, as before.
        Assert.Equal((s_at["creation.called"].File, s_at["creation.called"].Line), Line(Created(typeof(Jobs.Refresher), nameof(Jobs.Refresher.FlushAsync))));

        // Registered at two calls; called through the interface it implements or the base method it overrides (held by
        // the app as that interface or base); a class never passed as a type argument: nothing said.
        Assert.Null(Created(typeof(Jobs.Twice), nameof(Jobs.Twice.RunAsync)));
        Assert.Null(Created(typeof(Jobs.Held), nameof(Jobs.Held.RunAsync)));
        Assert.Null(Created(typeof(Jobs.Derived), nameof(Jobs.Derived.RunAsync)));
        Assert.Null(Created(typeof(Jobs.Unregistered), nameof(Jobs.Unregistered.RunAsync)));
    }

    [Fact]
    public void A_work_items_callback_is_the_caller_of_the_async_method_whose_box_it_created()
    {
        // A callback as a work item's or a timer's: `_ => _ = TickAsync()`; the stack sampled in TickAsync's first step.
        Action callback = () => _ = Ticks.TickAsync();
        callback();
        var frames = Ticks.Frames!;
        var tick = typeof(Ticks).GetMethod(nameof(Ticks.TickAsync))!;
        Assert.Same(callback.Method, CreationSites.CallerOf(frames, tick));

        // A sample of another method's creation (shared by a name another type's method has too): no caller.
        Assert.Null(CreationSites.CallerOf(frames, s_target));

        // Below its MoveNext and kickoff, no frame of the app's: no caller.
        var bare = frames.TakeWhile(f => f.GetMethod() != callback.Method).ToArray();
        Assert.Null(CreationSites.CallerOf(bare, tick));
    }

    private static bool IsTarget(MethodBase method) =>
        MethodSymbols.SameDefinition(method, s_target) || method.DeclaringType == s_target.GetCustomAttribute<System.Runtime.CompilerServices.AsyncStateMachineAttribute>()!.StateMachineType;

    private static (string? File, int? Line) Line(SourceLine? site) => (site?.File, site?.Line);

    internal static class Ticks
    {
        public static StackFrame[]? Frames;

        public static async Task TickAsync()
        {
            Frames = new StackTrace(0, fNeedFileInfo: false).GetFrames();
            await Task.Yield();
        }
    }

    // A service's method started fire-and-forget by two handlers (never run but through reflection).
    internal static class Shop
    {
        private static StackFrame[]? s_frames;

        // The stack is taken in the method's first step, before it returns its task.
        public static StackFrame[] StartByReflection()
        {
            _ = (Task)s_target.Invoke(null, null)!;
            return s_frames!;
        }

        public static async Task ReindexAsync()
        {
            s_frames = new StackTrace(fNeedFileInfo: false).GetFrames();
            await Task.Yield();
        }

        public static void Reindex() => _ = ReindexAsync(); // @creation.handler.call

        public static void ReindexAll() => _ = ReindexAsync();
    }

    // Classes registered with a framework that runs their methods (never run: their IL and lines are read).
    internal static class Jobs
    {
        public interface IJob
        {
            Task RunAsync();
        }

        public static void Register<T>()
        {
        }

        public static async Task Wire(IJob job, Step step, Refresher refresher)
        {
            Register<Refresher>(); // @creation.registered
            Register<Twice>();
            Register<Twice>();
            Register<Held>();
            Register<Derived>();
            await job.RunAsync();
            await step.RunAsync();
            await refresher.FlushAsync(); // @creation.called
        }

        public sealed class Refresher
        {
            public Task RefreshAsync() => Task.CompletedTask;

            public Task FlushAsync() => Task.CompletedTask;
        }

        public sealed class Twice
        {
            public Task RunAsync() => Task.CompletedTask;
        }

        public sealed class Held : IJob
        {
            public Task RunAsync() => Task.CompletedTask;
        }

        public abstract class Step
        {
            public abstract Task RunAsync();
        }

        public sealed class Derived : Step
        {
            public override Task RunAsync() => Task.CompletedTask;
        }

        public sealed class Unregistered
        {
            public Task RunAsync() => Task.CompletedTask;
        }
    }
}
