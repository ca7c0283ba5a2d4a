using AsyncLens.Attribution;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens.Detection;

/// <summary>
/// The finding a slow stretch makes, and the request handler it ran (an ASP.NET Core endpoint's, a gRPC service
/// method, a SignalR hub method): which one, and for how much of the stretch.
/// </summary>
internal sealed partial class SlowSteps
{
    // The finding for a stretch, with what it left behind besides its boxes, for the report to tell what ran: how its
    // time split, a synchronous wait or an exception on its thread, the handler of the ASP.NET Core endpoint it matched.
    private StepFinding Finding(ThreadTracker tracker, int taskId, RawAsyncStack stack, TaskRecord? record, StretchEvidence evidence, Frame frame, TimeSplit split, long end) =>
        new(taskId, time.GetUtcNow(), tracker.ThreadId, stack, record, evidence with
        {
            TaskId = taskId,
            Time = split,
            Waited = frame.Waited,
            ShortWaitTicks = Volatile.Read(ref frame.ShortWaitTicks),
            Threw = frame.Threw,
            OsThreadId = tracker.OsThreadId,
            Handler = frame.Endpoint is { } endpoint && RequestEndpoints.HandlerOf(endpoint) is { } handler ? new HandlerRun(handler, HandlerTicks(frame, end))
                : ((frame.Captured is { } captured && captured.FrameVersion == frame.Version ? captured.HeldHandler : null) ?? HeldHandler(frame)) is { } held
                    ? new HandlerRun(held, end - frame.Start) : null,
        });

    // The handler of the request a step of the framework's or of a package's serves, when routing matched it in an
    // earlier step: the step resumed after parking (gRPC's call handler, a package's, read the request's body, then ran
    // the service method inline), and its state machine holds the request's HttpContext. The whole stretch may have gone
    // to that handler. Read by the watchdog while a long step runs (Frame.Captured), else at its end.
    private static System.Reflection.MethodInfo? HeldHandler(Frame frame) =>
        frame is { Kind: FrameKind.AsyncStep, Box: { } box, Task: { } task } && !Symbols.CodeOrigin.IsAppCode(box.StateMachineType.Assembly)
            && box.StateMachine(task) is { } stateMachine
            && RequestEndpoints.EndpointHeldBy(stateMachine) is { } endpoint
            ? RequestEndpoints.HandlerOf(endpoint)
            : null;

    // The time from the endpoint's match to the first async method's box created after it that something awaited
    // (where the handler's first step, run inline, ended: the box of the method that first parked, then those of its
    // callers), or to the request's end, or to the stretch's. A box nothing awaited did not end it: a task the handler
    // blocked on (`.Result`) or let go, while it went on running.
    private static long HandlerTicks(Frame frame, long end)
    {
        if (frame.Endpoint is null)
            return 0;
        var until = frame.RequestEndAt > frame.EndpointAt ? frame.RequestEndAt : end;
        for (var record = frame.FirstCreated; record is not null; record = record.NextSibling)
        {
            if (record.Origin == TaskOrigin.AsyncMethod && record.Created >= frame.EndpointAt && record.AwaiterId != 0)
                return Math.Min(until, record.Created) - frame.EndpointAt;
        }
        return until - frame.EndpointAt;
    }
}
