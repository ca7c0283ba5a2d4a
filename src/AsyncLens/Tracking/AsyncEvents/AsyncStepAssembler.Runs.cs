using System.Runtime.CompilerServices;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// Runs for an <see cref="IAsyncRunSink"/> (the profiler): a context's steps and the contexts created in it are kept on
/// their thread, in arrays reused from one run to the next, and handed over with the context's stack when the run ends.
/// A step's callers are only known then: the runtime appends the callers that awaited a method after its context was
/// queued as it resumes them inline.
/// </summary>
internal sealed partial class AsyncStepAssembler
{
    /// <summary>
    /// Hands each thread's run so far to the run sink (the profile stops: a context still running, such as the one that
    /// stops it, has steps and completions the profile must hold). On AsyncLens's own thread, or the one stopping.
    /// </summary>
    public void EndRunsNow()
    {
        ThreadSteps[] threads;
        lock (_threads)
            threads = [.. _threads.Values];
        foreach (var thread in threads)
        {
            lock (thread)
                thread.EndRunIfAny();
        }
    }

    private sealed partial class ThreadSteps
    {
        private AsyncRunStep[] _runSteps = new AsyncRunStep[8];
        private int _runStepCount;
        private AsyncRunCreation[] _runCreated = new AsyncRunCreation[4];
        private int _runCreatedCount;

        private void AddRunStep(long end, AsyncStepEnd how)
        {
            if (_runStepCount == _runSteps.Length)
                Array.Resize(ref _runSteps, _runSteps.Length * 2);
            _runSteps[_runStepCount++] = new AsyncRunStep(_frame, _start, end, how);
        }

        /// <summary>A context was created on this thread: in the step open now (its frame), or outside any step.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void RunCreated(ulong context, long at, bool runtimeAsync)
        {
            if (_runs is null)
                return;
            if (_runCreatedCount == _runCreated.Length)
                Array.Resize(ref _runCreated, _runCreated.Length * 2);
            _runCreated[_runCreatedCount++] = new AsyncRunCreation(context, at, _open ? _frame : -1, runtimeAsync);
            // Outside any context (a program's first steps, a thread-pool item that is no async code) nothing else will
            // end a run: handed over at once, with no stack.
            if (Context == 0)
                EndRun();
        }

        /// <summary>The thread's run ends (its context suspends or completes, or another is resumed).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void EndRun()
        {
            if (_runs is not null && (Context != 0 || _runCreatedCount != 0))
                HandOver(_runs);
        }

        /// <summary>Hands over what the run holds, if anything: its stack is about to be replaced, or the profile stops.</summary>
        public void EndRunIfAny()
        {
            if (_runs is not null && (_runStepCount != 0 || _runCreatedCount != 0))
                HandOver(_runs);
        }

        private void HandOver(IAsyncRunSink sink)
        {
            var count = Context == 0 ? 0 : FrameCount;
            sink.OnRun(new AsyncRun(OsThreadId, Context, ResumedAt, _methods.AsSpan(0, count), _states.AsSpan(0, count),
                _runSteps.AsSpan(0, _runStepCount), _runCreated.AsSpan(0, _runCreatedCount)));
            _runStepCount = 0;
            _runCreatedCount = 0;
        }
    }
}
