using AsyncLens.Runtime;
using AsyncLens.Tracking;

namespace AsyncLens;

/// <summary>
/// The request handlers the frameworks announce on a thread as they run them: an ASP.NET Core endpoint's, a SignalR hub
/// method, a message consumer or a job (<see cref="RequestEndpoints"/>, <see cref="HandlerActivities"/>).
/// </summary>
internal sealed partial class DebugEngine
{
    // Routing matched a request to an endpoint on this thread: its handler runs next, inside the innermost frame.
    private void OnEndpointMatched(object endpoint, long now)
    {
        if (Volatile.Read(ref _disposed) != 0 || Tracker(now).Top is not { } top)
            return;
        top.Endpoint = endpoint;
        top.EndpointAt = now;
        top.RequestEndAt = 0;
    }

    // ASP.NET Core began or ended a request on this thread, as hosting's DiagnosticListener says: on the async events
    // alone, where no TPL listener runs to take hosting's EventSource.
    private void OnHostedRequestStart(long now)
    {
        try
        {
            if (Volatile.Read(ref _disposed) == 0)
                OnRequestStart(now);
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void OnHostedRequestStop(long now)
    {
        try
        {
            if (Volatile.Read(ref _disposed) == 0)
                OnRequestStop(now);
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    // A SignalR hub method ended on this thread (it ran synchronously, or its last step ran here): its handler's time ends.
    private void OnHubMethodEnd(System.Reflection.MethodInfo method, long now)
    {
        if (Volatile.Read(ref _disposed) == 0 && Tracker(now).Top is { } top && ReferenceEquals(top.Endpoint, method))
            top.RequestEndAt = now;
    }

    // A framework (a message bus, a job scheduler) begins running a handler of the user's on this thread: judged like a
    // request, on its own, from here to its end. Its dispatch loop may run it inside a step of its own, inside a delegate
    // task of its own (Quartz runs each job through Task.Run), or straight from a work item: a synchronous handler that
    // blocks or computes there leaves nothing else to be found by.
    private void OnHandlerStart(System.Reflection.MethodInfo handler, System.Diagnostics.Activity run, long now)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        var tracker = Tracker(now);
        if (tracker.Top is { Kind: FrameKind.Request } previous)
        {
            _steps.OnRequestDropped(tracker, previous, now, standsForNothing: false);
            Drop(tracker, previous, now);
        }
        if (InWorkItemOnly(tracker) || tracker.Top is { Kind: FrameKind.AsyncStep or FrameKind.Delegate } top
            && (top.Box?.StateMachineType ?? top.Code?.DeclaringType) is var code && (code is null || !Symbols.CodeOrigin.IsAppCode(code.Assembly)))
        {
            var standIn = StandIn(tracker, FrameKind.Request, now);
            standIn.WorkItem = WorkItems.CompletedOnThisThread();
            standIn.HandlerRun = run;
        }
        OnEndpointMatched(handler, now);
    }

    // That handler ended. On this thread (it ran synchronously, or its last step ran here), its frame is judged to here.
    // On another, its frame here stands for nothing from now on (ThreadTracker.StandsForNothing); and a frame standing
    // for another run of the same handler is not this one's (an earlier message's whose handler ended elsewhere: judged
    // at this end, it took the time between the two runs as its own).
    private void OnHandlerEnd(System.Reflection.MethodInfo handler, System.Diagnostics.Activity run, long now)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        var tracker = Tracker(now, ending: run);
        if (tracker.Top is { } top && (top.HandlerRun is null ? ReferenceEquals(top.Endpoint, handler) : ReferenceEquals(top.HandlerRun, run)))
            EndRequest(tracker, top, now);
    }
}
