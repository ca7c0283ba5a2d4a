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
/// of the method, which the method's call sites alone do not tell when it has more than one.
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

    private static bool IsTarget(MethodBase method) =>
        MethodSymbols.SameDefinition(method, s_target) || method.DeclaringType == s_target.GetCustomAttribute<System.Runtime.CompilerServices.AsyncStateMachineAttribute>()!.StateMachineType;

    private static (string? File, int? Line) Line(SourceLine? site) => (site?.File, site?.Line);

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
}
