using AsyncLens.Runtime;

namespace AsyncLens.Tracking;

/// <summary>
/// The last few moments an async method of this thread parked at an await or completed, noted on the thread as it
/// happened (from the TPL events kept with <see cref="StepSourceKind.AsyncEvents"/>): the step those events bracket
/// arrives up to ~1.25 s later, when its task has usually moved on, and these say which task it was, its creation
/// record and where it stopped. A ring of <see cref="Size"/> slots written only by its thread, read by the watchdog:
/// a slot read while rewritten is caught by its <see cref="Note.Time"/> and box not matching the step. With each note the
/// thread's compilation so far is kept where it grew (<see cref="JitWithin"/>): it can be read only on the thread, and no
/// event marks a step's start there.
/// </summary>
internal sealed class ParkNotes
{
    public const int Size = 16;

    // Stretches judged apart (AddApart): a bus's reader thread runs a handler after another, each noted, before the
    // step around them arrives (up to ~1.25 s later); past this many the oldest are lost and counted as the step's.
    private const int ApartSize = 16;

    private readonly Note[] _notes = new Note[Size];
    private int _next;
    private readonly (long Start, long End, bool Request)[] _apart = new (long, long, bool)[ApartSize];
    private int _nextApart;
    private readonly TaskRecord?[] _created = new TaskRecord?[Size];
    private int _nextCreated;

    // The thread's compilation time (RuntimeTime.JitOnThisThread) at the notes where it had grown since the one before:
    // few once the thread's code is compiled, so they reach back further than the notes (a pool thread running a
    // BackgroundService's loop between a step and its judging overwrote all 16 notes of the step's time).
    private const int JitSize = 32;
    private readonly (long Time, long Jit)[] _jit = new (long, long)[JitSize];
    private int _nextJit;
    private long _lastJit = -1;

    /// <param name="Time">When (DateTime ticks).</param>
    /// <param name="TaskId">The method's task.</param>
    /// <param name="Record">Its creation record, if debug mode saw it created.</param>
    /// <param name="Box">The method's box type, if its task was still registered.</param>
    /// <param name="State">The await it parked at, or <see cref="Runtime.Layout.AsyncState.Done"/> when it completed.</param>
    internal readonly record struct Note(long Time, int TaskId, TaskRecord? Record, BoxInfo? Box, int State);

    /// <summary>A note, with the thread's compilation time so far (<see cref="RuntimeTime.JitOnThisThread"/>, <paramref name="jit"/>).</summary>
    public void Add(long time, int taskId, TaskRecord? record, BoxInfo? box, int state, long jit)
    {
        _notes[_next] = new Note(time, taskId, record, box, state);
        _next = (_next + 1) % Size;
        if (jit == _lastJit)
            return;
        _lastJit = jit;
        _jit[_nextJit] = (time, jit);
        _nextJit = (_nextJit + 1) % JitSize;
    }

    /// <summary>
    /// An upper bound of what the thread compiled in [<paramref name="from"/>, <paramref name="to"/>]: from its last note
    /// before <paramref name="from"/> to its last note up to <paramref name="to"/> (a step's park or completion is noted as
    /// it ends); -1 when no note before <paramref name="from"/> is kept. Compiling after the last note is not seen.
    /// </summary>
    public long JitWithin(long from, long to)
    {
        var (beforeAt, before, untilAt, until) = (long.MinValue, -1L, long.MinValue, -1L);
        foreach (var (time, jit) in _jit)
        {
            if (time == 0)
                continue;
            if (time < from && time > beforeAt)
                (beforeAt, before) = (time, jit);
            if (time <= to && time > untilAt)
                (untilAt, until) = (time, jit);
        }
        return before < 0 ? -1 : Math.Max(0, until - before);
    }

    /// <summary>
    /// The note of a method of <paramref name="stateMachine"/> in [<paramref name="from"/>, <paramref name="to"/>] nearest
    /// to <paramref name="near"/>, of a completion if <paramref name="completed"/>, else of a park.
    /// </summary>
    public Note? Nearest(Type stateMachine, long from, long to, long near, bool completed)
    {
        Note? found = null;
        foreach (var note in _notes)
        {
            if (note.Time < from || note.Time > to || note.Box?.StateMachineType != stateMachine
                || (note.State == Runtime.Layout.AsyncState.Done) != completed)
                continue;
            if (found is null || Math.Abs(note.Time - near) < Math.Abs(found.Value.Time - near))
                found = note;
        }
        return found;
    }

    /// <summary>An async method's box created on this thread: its first step ran inside the step running then.</summary>
    public void AddCreated(TaskRecord record)
    {
        _created[_nextCreated] = record;
        _nextCreated = (_nextCreated + 1) % Size;
    }

    /// <summary>The boxes created on this thread in [<paramref name="from"/>, <paramref name="to"/>], oldest first (of the last <see cref="Size"/>).</summary>
    public List<TaskRecord> CreatedWithin(long from, long to)
    {
        var found = new List<TaskRecord>();
        for (var i = 0; i < Size; i++)
        {
            if (_created[(_nextCreated + i) % Size] is { } record && record.Created >= from && record.Created <= to)
                found.Add(record);
        }
        return found;
    }

    /// <summary>
    /// A stretch of this thread judged on its own, not as part of the step around it: a synchronous wait reported as such
    /// (written by whichever thread closed it), or (<paramref name="request"/>) a request's or a message or job handler's
    /// run judged as a request (<see cref="FrameKind.Request"/>) with no step frame under it to take its time off.
    /// </summary>
    public void AddApart(long start, long end, bool request = false)
    {
        lock (_apart)
        {
            _apart[_nextApart] = (start, end, request);
            _nextApart = (_nextApart + 1) % ApartSize;
        }
    }

    /// <summary>
    /// How much of [<paramref name="from"/>, <paramref name="to"/>] the thread spent in stretches judged on their own
    /// (<see cref="AddApart"/>); requests' runs only with <paramref name="requests"/>: a request stands in only inside a
    /// framework's step (its dispatch loop), so only such a step ran it; the app's own async steps run inside it.
    /// </summary>
    public long ApartWithin(long from, long to, bool requests)
    {
        // They may nest (a handler's run, and a wait inside it): the time they cover, each moment once.
        Span<long> starts = stackalloc long[ApartSize];
        Span<long> ends = stackalloc long[ApartSize];
        var count = 0;
        lock (_apart)
        {
            foreach (var (start, end, request) in _apart)
            {
                var (s, e) = (Math.Max(start, from), Math.Min(end, to));
                if (e <= s || (request && !requests))
                    continue;
                var at = count++;
                for (; at > 0 && starts[at - 1] > s; at--)
                    (starts[at], ends[at]) = (starts[at - 1], ends[at - 1]);
                (starts[at], ends[at]) = (s, e);
            }
        }
        long total = 0, covered = from;
        for (var i = 0; i < count; i++)
        {
            total += Math.Max(0, ends[i] - Math.Max(starts[i], covered));
            covered = Math.Max(covered, ends[i]);
        }
        return total;
    }
}
