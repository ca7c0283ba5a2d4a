using System.Diagnostics.Tracing;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Bench;

/// <summary>
/// The cost of .NET 11's <c>AsyncProfilerEventSource</c> (every keyword), the cheap source of step boundaries:
/// <c>async-events-ignored</c> takes the buffers and ignores them (the runtime's floor for that source);
/// <c>async-events</c> decodes each with AsyncLens's reader into <see cref="StepSink"/>, which keeps what debug mode needs
/// per thread (the context running, when its step began, the longest step, the methods on its stack).
/// Both need the source: on a runtime without it (.NET 10) they fail.
/// </summary>
internal static class AsyncEventsMode
{
    private const EventKeywords All = (EventKeywords)AsyncEventFormat.AllKeywords;

    public static bool Handles(string mode) => mode is "async-events" or "async-events-ignored";

    public static EventListener? Start(string mode) => mode switch
    {
        "async-events" => AsyncEventsListener.Start(new StepSink(), All),
        "async-events-ignored" => new Ignoring(),
        _ => null,
    };

    /// <summary>One line for standard error: what the listener saw, so a run that saw nothing cannot pass for a cheap one.</summary>
    public static string Describe(EventListener listener) => listener switch
    {
        AsyncEventsListener l when l.SourceSeen =>
            FormattableString.Invariant($"async events: {l.Buffers} buffers, {l.Events} events, {l.Skipped} skipped, {l.LostBuffers} buffers cut short"),
        Ignoring { SourceSeen: true } i => FormattableString.Invariant($"async events: {i.Buffers} buffers, ignored"),
        _ => throw new InvalidOperationException($"{AsyncEventFormat.SourceName} not found: this runtime ({Environment.Version}) has no such source"),
    };

    private sealed class Ignoring : EventListener
    {
        public bool SourceSeen;
        public long Buffers;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name != AsyncEventFormat.SourceName)
                return;
            SourceSeen = true;
            EnableEvents(eventSource, EventLevel.Informational, All);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData) => Interlocked.Increment(ref Buffers);
    }

    /// <summary>Per writing thread: the context resumed, its step's start, the longest step seen, and the stack's methods.</summary>
    private sealed class StepSink : IAsyncEventSink
    {
        private readonly Dictionary<ulong, ThreadState> _threads = [];

        public void OnAsyncEvent(in AsyncEventBufferHeader header, in AsyncEvent e, long utcTicks)
        {
            lock (_threads)
            {
                if (!_threads.TryGetValue(header.OsThreadId, out var thread))
                    _threads[header.OsThreadId] = thread = new ThreadState();
                switch (e.Kind)
                {
                    case AsyncEventKind.ResumeStateMachineAsyncContext or AsyncEventKind.ResumeRuntimeAsyncContext:
                        (thread.Context, thread.StepStart) = (e.DispatcherId, utcTicks);
                        break;
                    case AsyncEventKind.SuspendStateMachineAsyncContext or AsyncEventKind.CompleteStateMachineAsyncContext
                        or AsyncEventKind.SuspendRuntimeAsyncContext or AsyncEventKind.CompleteRuntimeAsyncContext:
                        thread.Longest = Math.Max(thread.Longest, utcTicks - thread.StepStart);
                        thread.Context = 0;
                        break;
                    case AsyncEventKind.ResumeStateMachineAsyncCallstack or AsyncEventKind.ResumeRuntimeAsyncCallstack:
                        var frames = e.Frames;
                        thread.Depth = 0;
                        while (frames.Next(out var method, out _) && thread.Depth < thread.Methods.Length)
                            thread.Methods[thread.Depth++] = method;
                        break;
                }
            }
        }

        private sealed class ThreadState
        {
            public ulong Context;
            public long StepStart, Longest;
            public int Depth;
            public readonly ulong[] Methods = new ulong[32];
        }
    }
}
