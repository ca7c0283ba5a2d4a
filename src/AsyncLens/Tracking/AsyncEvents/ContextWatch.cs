namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// The state-machine contexts one thread creates, each watched to its first resume, whose stack is kept (leaf first:
/// the box whose park created the context, at the await it parked at, then the methods awaiting it): for a thread whose
/// code no step brackets, async Main's first step before its thread blocks on Main (<c>SlowSteps</c> judges it from
/// these on the async events alone, where no wait event says where it ended). A state machine's stack is captured as
/// its context resumes, without the callers that awaited it after it parked: the runtime appends them as it resumes them
/// inline, and the kept stack grows with them (<see cref="Appended"/>) while that context runs. The last
/// <see cref="Kept"/> are kept; while none waits for its resume, what a resumed stack costs is one field read.
/// </summary>
internal sealed class ContextWatch
{
    /// <summary>As many as a thread's ring of created contexts keeps (<see cref="AsyncStepAssembler.ContextsCreated"/>).</summary>
    public const int Kept = 16;

    private readonly Entry[] _entries = new Entry[Kept];
    private int _next;
    private volatile int _pending;
    private long _osThreadId;

    // The context whose first resume was kept last: its appended callers are kept too while it runs.
    private long _extending;

    /// <summary>The OS thread whose contexts are watched (0: none).</summary>
    public ulong OsThreadId => (ulong)Volatile.Read(ref _osThreadId);

    /// <summary>Whether a watched context has not resumed yet.</summary>
    public bool Pending => _pending != 0;

    /// <summary>Whether <paramref name="context"/>'s first resume was the last kept: an appended stack of it is kept too.</summary>
    public bool Appended(ulong context) => context != 0 && (long)context == Volatile.Read(ref _extending);

    /// <summary>Watches the contexts <paramref name="osThreadId"/> creates from now on (0: stops).</summary>
    public void Watch(ulong osThreadId) => Volatile.Write(ref _osThreadId, (long)osThreadId);

    /// <summary>The watched thread created <paramref name="context"/> at <paramref name="at"/>: a box of its parked.</summary>
    public void Created(ulong context, long at)
    {
        lock (_entries)
        {
            if (_entries[_next] is { Methods: null })
                _pending--;
            _entries[_next] = new Entry(context, at);
            _next = (_next + 1) % Kept;
            _pending++;
        }
    }

    /// <summary>
    /// A context resumed at <paramref name="at"/> with this stack (as far as its events gave it): kept if it is a watched
    /// one's first resume, or that resume's stack with callers appended.
    /// </summary>
    public void Resumed(ulong context, long at, ReadOnlySpan<ulong> methods, ReadOnlySpan<int> states)
    {
        if (methods.IsEmpty)
            return;
        lock (_entries)
        {
            foreach (var entry in _entries)
            {
                if (entry is null || entry.Context != context || at < entry.CreatedAt || entry.Methods is not null && entry.ResumedAt != at)
                    continue;
                if (entry.Methods is null)
                {
                    _pending--;
                    Volatile.Write(ref _extending, (long)context);
                }
                (entry.Methods, entry.States, entry.ResumedAt) = (methods.ToArray(), states.ToArray(), at);
            }
        }
    }

    /// <summary>The stack a watched context created at <paramref name="createdAt"/> first resumed with; false if not (yet) seen.</summary>
    public bool FirstResume(ulong context, long createdAt, out ulong[] methods, out int[] states)
    {
        lock (_entries)
        {
            foreach (var entry in _entries)
            {
                if (entry is { Methods: { } m, States: { } s } && entry.Context == context && entry.CreatedAt == createdAt)
                {
                    (methods, states) = (m, s);
                    return true;
                }
            }
        }
        (methods, states) = ([], []);
        return false;
    }

    private sealed class Entry(ulong context, long createdAt)
    {
        public ulong Context { get; } = context;

        public long CreatedAt { get; } = createdAt;

        public ulong[]? Methods;

        public int[]? States;

        public long ResumedAt;
    }
}
