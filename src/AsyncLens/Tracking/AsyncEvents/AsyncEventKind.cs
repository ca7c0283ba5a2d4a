namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// The event ids inside an <c>AsyncEvents</c> buffer (11.0.0's <c>AsyncProfiler.AsyncEventID</c>). A dispatch
/// context is one run of async code from a non-async caller (a thread-pool work item, a timer, a completion) through
/// every method it resumes inline; runtime-async ones are keyed by their dispatcher task's id, state-machine ones by an
/// id the runtime draws from the same counter as task ids when the context is created.
/// </summary>
internal enum AsyncEventKind : byte
{
    CreateRuntimeAsyncContext = 1,
    ResumeRuntimeAsyncContext = 2,
    SuspendRuntimeAsyncContext = 3,
    CompleteRuntimeAsyncContext = 4,
    UnwindRuntimeAsyncException = 5,
    CreateRuntimeAsyncCallstack = 6,
    ResumeRuntimeAsyncCallstack = 7,
    SuspendRuntimeAsyncCallstack = 8,
    ResumeRuntimeAsyncMethod = 9,
    CompleteRuntimeAsyncMethod = 10,
    CreateStateMachineAsyncContext = 11,
    ResumeStateMachineAsyncContext = 12,
    SuspendStateMachineAsyncContext = 13,
    CompleteStateMachineAsyncContext = 14,
    UnwindStateMachineAsyncException = 15,
    ResumeStateMachineAsyncCallstack = 16,
    ResumeStateMachineAsyncMethod = 17,
    CompleteStateMachineAsyncMethod = 18,
    AppendStateMachineAsyncCallstack = 19,
    ResetAsyncThreadContext = 20,
    ResetAsyncContinuationWrapperIndex = 21,
    AsyncProfilerMetadata = 22,
    AsyncProfilerSyncClock = 23,
}

/// <summary>The size of an event's payload length field, per event id (11.0.0's <c>EventManifestEntry.PayloadLengthFieldSize</c>).</summary>
internal enum PayloadLengthField : byte
{
    None = 0,
    Byte = 1,
    UShort = 2,
}
