using System.Diagnostics.Tracing;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// Debug mode's steps from .NET 11's async events (<see cref="StepSourceKind.AsyncEvents"/>): the source's buffers
/// decoded and assembled into method steps (<see cref="AsyncStepAssembler"/>), and each step that held its thread at
/// least <c>slowTicks</c> handed to <c>onSlow</c> with its method. That runs on the thread that delivered the buffer
/// (an app thread whose buffer filled up, or the runtime's flush timer): a comparison per step, nothing allocated,
/// until a step is slow.
/// </summary>
internal sealed class EventSteps : IAsyncStepSink, IDisposable
{
    private readonly long _slowTicks;
    private readonly Action<AsyncStep> _onSlow;
    private readonly AsyncStepAssembler _assembler;
    private readonly AsyncEventsListener _listener;

    public EventSteps(long slowTicks, Action<AsyncStep> onSlow)
    {
        _slowTicks = slowTicks;
        _onSlow = onSlow;
        _assembler = new AsyncStepAssembler(this);
        _listener = AsyncEventsListener.Start(_assembler, (EventKeywords)AsyncEventFormat.AllKeywords);
    }

    /// <summary>Has every thread's buffer delivered now (see <see cref="AsyncEventsListener.Flush"/>): on AsyncLens's own thread only.</summary>
    public void Flush() => _listener.Flush();

    /// <summary>The steps still running as far as the buffers delivered so far tell (<see cref="AsyncStep.End"/> = its start).</summary>
    public void OpenSteps(List<AsyncStep> into) => _assembler.OpenSteps(into);

    /// <summary>False on a runtime without the source (the decision in <see cref="StepSource"/> should have said so).</summary>
    public bool SourceSeen => _listener.SourceSeen;

    public void OnStep(in AsyncStep step)
    {
        if (step.End - step.Start >= _slowTicks)
            _onSlow(step);
    }

    public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
    {
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>
    /// The async method a step's method id names: the state machine type whose <c>MoveNext</c> starts at that native
    /// code address (the runtime's id of a state machine), found as the runtime finds an address's method for an
    /// exception's async frames (<see cref="Runtime.RuntimeAsyncChains.MethodAt"/>); null for an id of a runtime-async
    /// method (a resume point inside it: no state machine to report on) or one that names nothing.
    /// </summary>
    public static Type? StateMachineOf(ulong methodId) =>
        methodId != 0 && Runtime.RuntimeAsyncChains.MethodAt((nint)methodId).Method is MethodInfo { Name: nameof(IAsyncStateMachine.MoveNext), DeclaringType: { } type }
        && typeof(IAsyncStateMachine).IsAssignableFrom(type)
            ? type
            : null;
}
