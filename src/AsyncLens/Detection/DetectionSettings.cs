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
}
