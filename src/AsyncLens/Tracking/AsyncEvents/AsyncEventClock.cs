using System.Diagnostics;
using System.Numerics;

namespace AsyncLens.Tracking.AsyncEvents;

/// <summary>
/// Converts the events' <see cref="Stopwatch"/> time stamps to <see cref="DateTime"/> ticks (UTC), the clock the TPL
/// path's events carry (<c>EventWrittenEventArgs.TimeStamp</c>), so both sources feed one timeline. The runtime pairs
/// the two clocks in its metadata event and again once a minute (<see cref="AsyncEventKind.AsyncProfilerSyncClock"/>);
/// until a reader has seen one, a pairing taken here stands in (in-process, the clocks are the same ones).
/// </summary>
internal sealed class AsyncEventClock
{
    // DateTime.FromFileTimeUtc(0).Ticks: FILETIME counts from 1601, DateTime from year 1.
    private const long FileTimeEpochTicks = 504_911_232_000_000_000;

    // Replaced whole, never changed in place: buffers are decoded on several threads at once, and a reader must never
    // see a frequency from one pairing with a time stamp from another.
    private Pairing _pairing;

    public AsyncEventClock(long frequency, long syncTimestamp, long syncUtcTicks) =>
        _pairing = new Pairing(frequency, syncTimestamp, syncUtcTicks);

    /// <summary>A pairing of this process's clocks, taken now.</summary>
    public static AsyncEventClock Local() => new(Stopwatch.Frequency, Stopwatch.GetTimestamp(), DateTime.UtcNow.Ticks);

    public long Frequency => _pairing.Frequency;

    /// <summary>The pairing in force: a decoder takes it once per buffer, and again after an event that changes it.</summary>
    public Pairing Current => Volatile.Read(ref _pairing);

    public long ToUtcTicks(long timestamp) => Current.ToUtcTicks(timestamp);

    /// <summary>
    /// Takes the pairing (and, for metadata, the manifest) an event carries: metadata is the frequency, a time stamp and
    /// the UTC FILETIME taken with it, the buffer size, then the manifest's entries; a sync event the time stamp and
    /// FILETIME. Returns false, changing nothing, on a payload it cannot read.
    /// </summary>
    public bool Update(in AsyncEvent e, out AsyncEventManifest? manifest)
    {
        manifest = null;
        var at = 0;
        var frequency = (ulong)_pairing.Frequency;
        if (e.Kind == AsyncEventKind.AsyncProfilerMetadata && !Varint.TryReadUInt64(e.Payload, ref at, out frequency))
            return false;
        if (!Varint.TryReadUInt64(e.Payload, ref at, out var timestamp) || !Varint.TryReadUInt64(e.Payload, ref at, out var fileTime)
            || frequency == 0 || frequency > long.MaxValue || fileTime > long.MaxValue - FileTimeEpochTicks)
            return false;
        if (e.Kind == AsyncEventKind.AsyncProfilerMetadata)
        {
            // The buffer size, then the continuation wrapper count (one byte), then the entries.
            if (!Varint.TryReadUInt64(e.Payload, ref at, out _) || at + 1 > e.Payload.Length)
                return false;
            manifest = AsyncEventManifest.FromEntries(e.Payload[(at + 1)..]);
        }
        Volatile.Write(ref _pairing, new Pairing((long)frequency, (long)timestamp, (long)fileTime + FileTimeEpochTicks));
        return true;
    }

    /// <summary>
    /// One pairing of the two clocks, and how a time stamp's distance from it becomes <see cref="DateTime"/> ticks:
    /// <c>floor(|elapsed| * TicksPerSecond / Frequency)</c>, signed. Where one frequency is a whole multiple of the other
    /// (1 GHz on Linux, 10 MHz on Windows) that is one multiplication, or one division by a constant done as a
    /// multiplication and a shift (Granlund and Montgomery, 1994), where the general form takes two hardware divisions
    /// per event (docs/performance.md: about 0.6 ns of the decoder's ~19 ns an event). The same ticks as the general form.
    /// </summary>
    internal sealed class Pairing
    {
        private readonly long _multiplier;
        private readonly ulong _magic;
        private readonly int _shift;

        public Pairing(long frequency, long timestamp, long utcTicks)
        {
            (Frequency, Timestamp, UtcTicks) = (frequency, timestamp, utcTicks);
            if (frequency <= TimeSpan.TicksPerSecond && TimeSpan.TicksPerSecond % frequency == 0)
                _multiplier = TimeSpan.TicksPerSecond / frequency;
            else if (frequency % TimeSpan.TicksPerSecond == 0)
            {
                // Theorem 4.2 with N = 63 (|elapsed| < 2^63): l = ceil(log2 d), m = ceil(2^(63 + l) / d) < 2^64.
                var divisor = (ulong)(frequency / TimeSpan.TicksPerSecond);
                var log = 64 - BitOperations.LeadingZeroCount(divisor - 1);
                _magic = (ulong)(((UInt128.One << (63 + log)) + divisor - 1) / divisor);
                _shift = log - 1;
            }
        }

        public long Frequency { get; }

        public long Timestamp { get; }

        public long UtcTicks { get; }

        public long ToUtcTicks(long timestamp)
        {
            var elapsed = timestamp - Timestamp;
            if (elapsed == long.MinValue || (_multiplier == 0 && _magic == 0))
                return General(elapsed);
            var distance = (ulong)Math.Abs(elapsed);
            var ticks = _multiplier != 0 ? distance * (ulong)_multiplier : Math.BigMul(distance, _magic, out _) >> _shift;
            return elapsed < 0 ? UtcTicks - (long)ticks : UtcTicks + (long)ticks;
        }

        /// <summary>Any frequency: whole seconds and the rest apart (elapsed * TicksPerSecond overflows after ~15 minutes at 1 GHz).</summary>
        internal long General(long elapsed)
        {
            var seconds = Math.DivRem(elapsed, Frequency, out var rest);
            return UtcTicks + seconds * TimeSpan.TicksPerSecond + rest * TimeSpan.TicksPerSecond / Frequency;
        }
    }
}
