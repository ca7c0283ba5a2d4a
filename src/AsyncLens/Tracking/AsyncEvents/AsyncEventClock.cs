using System.Diagnostics;

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

    public long ToUtcTicks(long timestamp)
    {
        var pairing = Volatile.Read(ref _pairing);
        var elapsed = timestamp - pairing.Timestamp;
        // Whole seconds and the rest apart: elapsed * TicksPerSecond overflows after ~15 minutes at 1 GHz.
        var seconds = Math.DivRem(elapsed, pairing.Frequency, out var rest);
        return pairing.UtcTicks + seconds * TimeSpan.TicksPerSecond + rest * TimeSpan.TicksPerSecond / pairing.Frequency;
    }

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

    private sealed record Pairing(long Frequency, long Timestamp, long UtcTicks);
}
