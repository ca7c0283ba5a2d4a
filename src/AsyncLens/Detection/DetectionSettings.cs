namespace AsyncLens.Detection;

/// <summary>Thresholds in <see cref="TimeSpan"/> ticks (the unit of event timestamps), derived once from <see cref="AsyncDebugOptions"/>.</summary>
internal sealed class DetectionSettings
{
    public DetectionSettings(AsyncDebugOptions options)
    {
        SlowTicks = Ticks(options.SlowStepThreshold);
        HungTicks = Ticks(options.HungStepThreshold ?? options.SlowStepThreshold * 10);
        GraceTicks = Ticks(options.UnobservedExceptionDelay);
        // The watchdog must see a slow step at least once before it ends, to read its parents.
        TickPeriod = TimeSpan.FromMilliseconds(Math.Clamp(options.SlowStepThreshold.TotalMilliseconds / 4, 5, 100));
    }

    public long SlowTicks { get; }

    public long HungTicks { get; }

    public long GraceTicks { get; }

    public TimeSpan TickPeriod { get; }

    public static long Ticks(TimeSpan span) => span.Ticks;

    public static double Seconds(long ticks) => (double)ticks / TimeSpan.TicksPerSecond;

    /// <summary>The clock events are stamped with.</summary>
    public static long Now => DateTime.UtcNow.Ticks;

    /// <summary>
    /// <see cref="Now"/> read cheaply, never below it by more than <see cref="RoughError"/>: the OS's tick-granular clock
    /// (<see cref="Environment.TickCount64"/>: 4 ms steps on Linux, 15.6 ms on Windows; 18 ns a read against the precise
    /// clock's 40 on the 2-core machine of docs/performance.md) moved onto it by an offset that <see cref="Calibrate"/>
    /// keeps. For a test on the app's thread whose rare true case reads <see cref="Now"/> again.
    /// </summary>
    public static long RoughNow => Environment.TickCount64 * TimeSpan.TicksPerMillisecond + Volatile.Read(ref s_roughOffset);

    /// <summary>The most <see cref="RoughNow"/> may read below <see cref="Now"/> (the coarsest tick of the OSes above).</summary>
    public static readonly long RoughError = TimeSpan.TicksPerMillisecond * 16;

    private static long s_roughOffset = RoughOffset();

    /// <summary>
    /// Moves <see cref="RoughNow"/> onto <see cref="Now"/> again (each watchdog tick): a step of the wall clock would
    /// otherwise stay between them.
    /// </summary>
    public static void Calibrate() => Volatile.Write(ref s_roughOffset, RoughOffset());

    // The tick clock read first: its reading is at most its tick below its time, and the precise clock, read after, is
    // not below that time; so the offset is never below the true one, and RoughNow never below Now by more than a tick.
    private static long RoughOffset()
    {
        var tick = Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
        return Now - tick;
    }
}
