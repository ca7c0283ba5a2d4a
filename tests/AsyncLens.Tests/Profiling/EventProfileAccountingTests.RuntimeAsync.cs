using AsyncLens.Tests.Tracking.AsyncEvents;
using AsyncLens.Tracking.AsyncEvents;
using Xunit;

namespace AsyncLens.Tests.Profiling;

/// <summary>
/// State machines awaited by runtime-async code (<see cref="AsyncLens.Profiling.EventProfileAccounting"/>, its Awaiters
/// part): ASP.NET Core 11's pipeline between a middleware and a handler, HttpClient's between a caller and a
/// DelegatingHandler. A state machine's stack stops at a runtime-async frame, so the handler's chain is a root; the
/// order of the contexts created in one step says who awaits it (docs/async-events.md).
/// </summary>
public sealed partial class EventProfileAccountingTests
{
    // A request as Kestrel runs it on 11.0.0 (Storefront, recorded by a scratch dump of the runs): in a step of the
    // framework's runtime-async code (a connection's loop, context 20; or outside any context, a new connection's first
    // run), Main (the middleware) calls runtime-async code that calls Run (the handler), which calls Delay. Delay parks
    // (context 30: Delay under Run), the runtime-async code awaiting Run suspends (runtime-async context 31), Main parks
    // on it (context 32: Main alone). Another thread resumes 30 (Delay and Run complete), 31, then 32 (Main completes).
    private static byte[][] Request(bool inRuntimeAsyncStep)
    {
        byte parent = inRuntimeAsyncStep ? (byte)20 : (byte)0;
        var step = new BufferBuilder(start: Ms(1), osThread: 2);
        if (inRuntimeAsyncStep)
        {
            step.Event(AsyncEventKind.ResumeRuntimeAsyncContext, Ms(1), 20)
                .Event(AsyncEventKind.ResumeRuntimeAsyncCallstack, Ms(1), [0, 0, 1, 20, .. BufferBuilder.Unsigned(Framework)]);
        }
        step.Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2), parent, 30)
            .Event(AsyncEventKind.CreateRuntimeAsyncContext, Ms(2.1), parent, 31)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2.2), parent, 32);
        if (inRuntimeAsyncStep)
            step.Event(AsyncEventKind.SuspendRuntimeAsyncContext, Ms(2.3));
        return
        [
            step.Build(),
            new BufferBuilder(start: Ms(10), osThread: 3)
                .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(10), 30)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(10), Stack(30, (Delay, 0), (Run, 0)))
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10))
                .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.1))
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.1))
                .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.2))
                .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(10.2))
                .Event(AsyncEventKind.ResumeRuntimeAsyncContext, Ms(10.3), 31)
                .Event(AsyncEventKind.ResumeRuntimeAsyncCallstack, Ms(10.3), [0, 0, 1, 31, .. BufferBuilder.Unsigned(Framework)])
                .Event(AsyncEventKind.CompleteRuntimeAsyncContext, Ms(10.4))
                .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(10.5), 32)
                .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(10.5), Stack(32, (Main, 0)))
                .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10.5))
                .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.6))
                .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(10.6))
                .Build(),
        ];
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void AStateMachineAwaitedThroughRuntimeAsyncCodeHangsUnderTheBoxThatParkedOnThatCode(bool inRuntimeAsyncStep, bool runsFirst)
    {
        var buffers = Request(inRuntimeAsyncStep);
        var profile = Profile(ProfileScopeUser, runsFirst ? [buffers[1], buffers[0]] : buffers);

        Assert.Equal(
            [("M1000", "M2000", 1), ("M2000", "M3000", 1)],
            profile.Calls.Select(c => (c.Caller, c.Callee, c.Calls)).Order());
        Assert.All([Main, Run, Delay], m => Assert.Equal((1, 0), (Method(profile, m).Calls, Method(profile, m).Pending)));
        Near(Span(10.6 - 2.2), Method(profile, Main).Wall);
        Near(Span(10.2 - 2), Method(profile, Run).Wall);
    }

    [Fact]
    public void CallsABoxAwaitedThroughRuntimeAsyncCodeMadeBeforeItParkedHangUnderIt()
    {
        // In a runtime-async step, Main calls runtime-async code that calls Loop (a page), whose first step calls Spin
        // twice (each parks: contexts 40, 41) and parks on their Task.WhenAll (context 42: Loop alone); the runtime-async
        // code suspends on Loop (43), Main parks on it (44).
        var step = new BufferBuilder(start: Ms(1), osThread: 2)
            .Event(AsyncEventKind.ResumeRuntimeAsyncContext, Ms(1), 20)
            .Event(AsyncEventKind.ResumeRuntimeAsyncCallstack, Ms(1), [0, 0, 1, 20, .. BufferBuilder.Unsigned(Framework)])
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2), 20, 40)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2.1), 20, 41)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2.2), 20, 42)
            .Event(AsyncEventKind.CreateRuntimeAsyncContext, Ms(2.3), 20, 43)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, Ms(2.4), 20, 44)
            .Event(AsyncEventKind.SuspendRuntimeAsyncContext, Ms(2.5))
            .Build();
        var runs = new BufferBuilder(start: Ms(10), osThread: 3)
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(10), 40)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(10), Stack(40, (Spin, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(10))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(10.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(10.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(11), 41)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(11), Stack(41, (Spin, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(11.1))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(11.1))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(11.2), 42)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(11.2), Stack(42, (Loop, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11.2))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(11.3))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(11.3))
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, Ms(11.5), 44)
            .Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, Ms(11.5), Stack(44, (Main, 0)))
            .Event(AsyncEventKind.ResumeStateMachineAsyncMethod, Ms(11.5))
            .Event(AsyncEventKind.CompleteStateMachineAsyncMethod, Ms(11.6))
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, Ms(11.6))
            .Build();

        var profile = Profile(ProfileScopeUser, step, runs);

        Assert.Equal(
            [("M1000", "M6000", 1), ("M6000", "M4000", 2)],
            profile.Calls.Select(c => (c.Caller, c.Callee, c.Calls)).Order());
        Assert.Equal((2, 0), (Method(profile, Spin).Calls, Method(profile, Spin).Pending));
    }
}
