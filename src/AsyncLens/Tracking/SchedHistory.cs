namespace AsyncLens.Tracking;

/// <summary>
/// A thread's scheduler figures (time on a CPU, time waiting for one) sampled by the watchdog at each tick, when debug
/// mode takes its steps from .NET 11's async events (<see cref="StepSourceKind.AsyncEvents"/>): a step arrives after it
/// ended, when its thread's figures at its start can no longer be read, so they are interpolated between the samples
/// around it. The last <see cref="Size"/> samples are kept (6.4 s at a 25 ms tick: a step may arrive 1.25 s late).
/// Written and read by the watchdog's thread (and at exit, once the watchdog has stopped).
/// </summary>
internal sealed class SchedHistory
{
    public const int Size = 256;

    private readonly long[] _at = new long[Size];
    private readonly long[] _onCpu = new long[Size];
    private readonly long[] _waited = new long[Size];
    private int _count;
    private int _next;

    public void Add(long now, SchedTimes times)
    {
        if (times.OnCpu < 0 || times.Waited < 0)
            return;
        (_at[_next], _onCpu[_next], _waited[_next]) = (now, times.OnCpu, times.Waited);
        _next = (_next + 1) % Size;
        _count = Math.Min(_count + 1, Size);
    }

    /// <summary>When the oldest sample kept was taken (<see cref="long.MaxValue"/>: none yet), and its figures.</summary>
    public (long At, SchedTimes Times) Oldest()
    {
        if (_count == 0)
            return (long.MaxValue, SchedTimes.Unavailable);
        var oldest = (_next - _count + Size) % Size;
        return (_at[oldest], new SchedTimes(_onCpu[oldest], _waited[oldest], RunQueue.Unavailable));
    }

    /// <summary>The figures at <paramref name="at"/>, interpolated between the samples around it; unavailable outside them.</summary>
    public SchedTimes At(long at)
    {
        var oldest = (_next - _count + Size) % Size;
        for (var i = 1; i < _count; i++)
        {
            var (before, after) = ((oldest + i - 1) % Size, (oldest + i) % Size);
            if (_at[before] > at || _at[after] < at)
                continue;
            var span = _at[after] - _at[before];
            var part = span <= 0 ? 1.0 : (double)(at - _at[before]) / span;
            return new SchedTimes(
                _onCpu[before] + (long)((_onCpu[after] - _onCpu[before]) * part),
                _waited[before] + (long)((_waited[after] - _waited[before]) * part),
                RunQueue.Unavailable);
        }
        return SchedTimes.Unavailable;
    }
}
