using System.Globalization;
using AsyncLens.Inventory;
using AsyncLens.Runtime;

namespace AsyncLens.Agent;

/// <summary>
/// The console's <c>ps-terminated</c>: the last N async methods that ended (default 1000, <c>ASYNCLENS_CONSOLE_HISTORY</c>),
/// in a ring of fixed size, so a million ended tasks hold no more than N entries. Fed by the inventory's sweeper
/// (<see cref="TaskRegistry.Ended"/>) with the methods that were pending at least one sweep (about a second): each one's
/// name and last await are worked out there, once, and the task itself is let go.
/// </summary>
internal sealed class TerminatedHistory
{
    public const string SizeVariable = "ASYNCLENS_CONSOLE_HISTORY";
    public const int DefaultSize = 1000;
    public const int MaxSize = 100_000;

    // Tasks whose chain the console cancelled: their end reads "cancelled by the console" (the last ids, bounded).
    private const int MaxConsoleCancelled = 10_000;

    private readonly EndedTask?[] _ring;
    private readonly NodeTextCache _texts = new();
    private readonly Lock _gate = new();
    private readonly HashSet<long> _cancelledByConsole = [];
    private readonly Queue<long> _cancelledOrder = new();
    private long _count;

    public TerminatedHistory(int size) => _ring = new EndedTask?[Math.Clamp(size, 1, MaxSize)];

    public int Size => _ring.Length;

    /// <summary><see cref="TaskRegistry.Ended"/>: on the sweeper's thread.</summary>
    public void Record(Task task, BoxInfo? box, int lastState)
    {
        if (box is null)
            return; // async methods only: a delegate task's end says nothing of where it waited
        var node = new TaskNode(task, task.Id, NodeKind.AsyncMethod, 0) { Box = box, State = lastState };
        string how;
        string? exception = null;
        lock (_gate)
        {
            var text = _texts.Of(node);
            how = task.Status switch
            {
                TaskStatus.RanToCompletion => "ran to completion",
                TaskStatus.Canceled => _cancelledByConsole.Contains(task.Id) ? "cancelled by the console" : "cancelled",
                _ => "faulted",
            };
            if (task.Status == TaskStatus.Faulted && task.Exception?.InnerException is { } ex)
                exception = $"{ex.GetType().Name}: {FirstLine(ex.Message)}";
            _ring[_count++ % _ring.Length] = new EndedTask(task.Id, text.Title, text.At, how, exception, DateTimeOffset.UtcNow);
        }
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
            return (list, _count);
        }
    }

    public static int SizeFrom(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var size) && size > 0 ? Math.Min(size, MaxSize) : DefaultSize;

    private static string FirstLine(string text)
    {
        var line = text.AsSpan();
        if (line.IndexOfAny('\r', '\n') is var end and >= 0)
            line = line[..end];
        return line.Length > 300 ? string.Concat(line[..300], "...") : line.ToString();
    }
}

/// <summary>An async method that ended: how, its last await's line, when.</summary>
internal sealed record EndedTask(long Id, string Method, SourceLine? LastParkedAt, string How, string? Exception, DateTimeOffset Ended);
