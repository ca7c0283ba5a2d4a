using System.Globalization;
using AsyncLens.Inventory;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tracking;

namespace AsyncLens.Agent;

/// <summary>
/// The console's <c>ps-terminated</c>: the last N async methods that ended (default 1000, <c>ASYNCLENS_CONSOLE_HISTORY</c>;
/// 0 switches it off), in rings of fixed size, so a million ended tasks hold no more than N entries.
/// <para>
/// In debug mode every async method is captured as it ends (<see cref="TaskRegistry.Ending"/>, on the app's thread): its
/// awaiter chain read while it still hangs from the task, its creation record, the time; one slot of a ring written,
/// nothing worked out. The sweeper turns the captures into text once a second (<see cref="Drain"/>) and lets the tasks go.
/// When more than N methods ended in the last second, the ring would keep only the last few milliseconds of them and
/// every other capture would be thrown away unread: the methods that ran to completion are then captured one in
/// <see cref="Stride"/> (about N a second kept, spread over the second), each thread counting its own; faulted and
/// cancelled ones are always captured. Every end is counted in the total.
/// Without debug mode nothing is told on the app's threads: the sweeper records the methods it saw pending (about a second
/// or more) once they have ended, with the await each was last parked on (<see cref="Record"/>).
/// </para>
/// </summary>
internal sealed class TerminatedHistory
{
    public const string SizeVariable = "ASYNCLENS_CONSOLE_HISTORY";
    public const int DefaultSize = 1000;
    public const int MaxSize = 100_000;

    // Tasks whose chain the console cancelled: their end reads "cancelled by the console" (the last ids, bounded).
    private const int MaxConsoleCancelled = 10_000;

    // Ends that ran to completion this thread has let go by since it last captured one (see Stride).
    [ThreadStatic] private static int t_skipped;

    private readonly EndedTask?[] _ring;
    private readonly Captured?[] _captured;
    private readonly Func<CreationSites?> _sites;
    private readonly NodeTextCache _texts = new();
    private readonly Lock _gate = new();
    private readonly HashSet<long> _cancelledByConsole = [];
    private readonly Queue<long> _cancelledOrder = new();
    private long _count;
    private long _capturedNext;
    private long _drained;
    private long _overwritten;
    private long _notCaptured;
    private long _endsAtLastDrain;
    private int _stride = 1;

    public TerminatedHistory(int size, Func<CreationSites?>? sites = null)
    {
        Size = Math.Clamp(size, 0, MaxSize);
        _ring = new EndedTask?[Math.Max(Size, 1)];
        _captured = new Captured?[Math.Max(Size, 1)];
        _sites = sites ?? (static () => null);
    }

    /// <summary>How many are kept; 0 when the history is off.</summary>
    public int Size { get; }

    public bool IsOn => Size > 0;

    /// <summary>
    /// One in how many methods that ran to completion is captured: the ends of the last sweep's second over N, at least 1
    /// (the ring keeps N; capturing more would only be overwritten before the next sweep reads it).
    /// </summary>
    public int Stride => Volatile.Read(ref _stride);

    /// <summary>
    /// <see cref="TaskRegistry.Ending"/>: on the app's thread, as debug mode sees an async method end, before its task
    /// completes. Reads the chain of methods awaiting it and fills one slot; the rest waits for the sweeper.
    /// </summary>
    public void Capture(Task task, int lastState, TaskRecord? record, long now, bool ranToCompletion = true)
    {
        if (ranToCompletion && Volatile.Read(ref _stride) is var stride and > 1 && ++t_skipped < stride)
        {
            Interlocked.Increment(ref _notCaptured);
            return;
        }
        t_skipped = 0;
        if (BoxInfo.Of(task) is not { } box)
            return;
        var stack = RawAsyncStack.Capture(task, lastState);
        var sequence = Interlocked.Increment(ref _capturedNext) - 1;
        Volatile.Write(ref _captured[sequence % _captured.Length], new Captured(sequence, task, box, lastState, stack, record, now));
    }

    /// <summary><see cref="TaskRegistry.Swept"/>: the captures since the last sweep (the newest N at most) become entries.</summary>
    public void Drain()
    {
        var end = Volatile.Read(ref _capturedNext);
        var ends = end + Volatile.Read(ref _notCaptured);
        Volatile.Write(ref _stride, (int)Math.Clamp((ends - _endsAtLastDrain) / _captured.Length, 1, int.MaxValue));
        _endsAtLastDrain = ends;
        var next = Math.Max(_drained, end - _captured.Length);
        // Overwritten before a sweep came: counted in the total, not kept.
        Interlocked.Add(ref _overwritten, next - _drained);
        for (; next < end; next++)
        {
            ref var slot = ref _captured[next % _captured.Length];
            var captured = Volatile.Read(ref slot);
            if (captured is null || captured.Sequence < next)
                break; // claimed, not written yet: the next sweep
            if (captured.Sequence > next)
            {
                Interlocked.Increment(ref _overwritten); // overwritten by a newer capture: that one is taken in its turn
                continue;
            }
            if (!captured.Task.IsCompleted)
                break; // the event comes before the completion: a moment later
            Interlocked.CompareExchange(ref slot, null, captured);
            Add(Resolve(captured));
        }
        _drained = next;
    }

    /// <summary><see cref="TaskRegistry.Ended"/>, without debug mode: on the sweeper's thread.</summary>
    public void Record(Task task, BoxInfo? box, int lastState)
    {
        if (box is null)
            return; // async methods only: a delegate task's end says nothing of where it waited
        var (title, at) = Text(task, box, lastState);
        var leaf = ReportBuilder.Frames(RawAsyncStack.Of([new RawFrame(task.Id, box, lastState, null, null)]));
        var (how, exception) = How(task);
        Add(new EndedTask(task.Id, title, at, how, exception, DateTimeOffset.UtcNow, leaf, null, null));
    }

    /// <summary>The tasks of a chain the console cancelled a token of.</summary>
    public void CancelledByConsole(IEnumerable<long> ids)
    {
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (_cancelledByConsole.Add(id))
                    _cancelledOrder.Enqueue(id);
                if (_cancelledOrder.Count > MaxConsoleCancelled)
                    _cancelledByConsole.Remove(_cancelledOrder.Dequeue());
            }
        }
    }

    /// <summary>Newest first, and how many ended in all since the console started.</summary>
    public (List<EndedTask> Tasks, long Total) Snapshot()
    {
        lock (_gate)
        {
            var list = new List<EndedTask>(_ring.Length);
            for (var i = 1; i <= Math.Min(_count, _ring.Length); i++)
                list.Add(_ring[(_count - i) % _ring.Length]!);
            return (list, _count + Volatile.Read(ref _overwritten) + Volatile.Read(ref _notCaptured));
        }
    }

    /// <summary>The size asked for: a number from 0 (off) to <see cref="MaxSize"/>; anything else keeps the default.</summary>
    public static int SizeFrom(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var size) ? Math.Min(size, MaxSize) : DefaultSize;

    private EndedTask Resolve(Captured c)
    {
        var (title, at) = Text(c.Task, c.Box, c.LastState);
        var (how, exception) = How(c.Task);
        var created = c.Record is null ? null : _sites()?.Resolve(c.Record, c.Box.Symbols.Kickoff, c.Stack);
        TimeSpan? lived = c.Record is null ? null : TimeSpan.FromTicks(Math.Max(0, c.Now - c.Record.Created));
        return new EndedTask(c.Task.Id, title, at, how, exception, new DateTimeOffset(c.Now, TimeSpan.Zero), ReportBuilder.Frames(c.Stack), created, lived);
    }

    private (string Title, SourceLine? At) Text(Task task, BoxInfo box, int lastState)
    {
        var node = new TaskNode(task, task.Id, NodeKind.AsyncMethod, 0) { Box = box, State = lastState };
        lock (_gate)
        {
            var text = _texts.Of(node);
            return (text.Title, AsyncState.IsParked(lastState) ? text.At : null);
        }
    }

    // How it ended, and the exception that ended it. Read without marking a fault observed (the app's own unobserved-exception
    // handling, and debug mode's, must see what they would have seen). A timeout is told by the exception only: a
    // CancellationTokenSource forgets its timer when it fires, so a CancelAfter token reads as a token.
    private (string How, string? Exception) How(Task task)
    {
        switch (task.Status)
        {
            case TaskStatus.RanToCompletion:
                return ("ran to completion", null);
            case TaskStatus.Canceled:
                var cancelled = TaskInternals.CancellationException(task);
                bool byConsole;
                lock (_gate)
                    byConsole = _cancelledByConsole.Contains(task.Id);
                var how = byConsole ? "cancelled by the console"
                    : cancelled?.InnerException is TimeoutException ? "cancelled by a timeout"
                    : cancelled?.CancellationToken.CanBeCanceled == true ? "cancelled by a token"
                    : "cancelled";
                return (how, cancelled is null ? null : Describe(cancelled));
            default:
                return ("faulted", TaskInternals.FaultException(task) is { } ex ? Describe(ex) : null);
        }
    }

    private void Add(EndedTask entry)
    {
        lock (_gate)
            _ring[_count++ % _ring.Length] = entry;
    }

    private static string Describe(Exception ex) => $"{ex.GetType().Name}: {FirstLine(ex.Message)}";

    private static string FirstLine(string text)
    {
        var line = text.AsSpan();
        if (line.IndexOfAny('\r', '\n') is var end and >= 0)
            line = line[..end];
        return line.Length > 300 ? string.Concat(line[..300], "...") : line.ToString();
    }

    /// <summary>What the app's thread captured as a method ended (the task held only until the next sweep).</summary>
    private sealed record Captured(long Sequence, Task Task, BoxInfo Box, int LastState, RawAsyncStack Stack, TaskRecord? Record, long Now);
}

/// <summary>
/// An async method that ended: how, its exception, the line it last awaited at, when; its last async stack (root first,
/// itself last); in debug mode where it was created and how long it lived.
/// </summary>
internal sealed record EndedTask(
    long Id, string Method, SourceLine? LastParkedAt, string How, string? Exception, DateTimeOffset Ended,
    IReadOnlyList<AsyncStackFrame> Stack, SourceLine? CreatedAt, TimeSpan? Lived);
