using AsyncLens.Runtime;

namespace AsyncLens.Tracking;

/// <summary>
/// The time AsyncLens itself takes on the app's threads, so that a step made slow by it is not blamed on the code:
/// a step that creates 10,000 tasks raises some 20,000 events, and delivering and handling each costs the step's thread
/// about a microsecond, where the code alone took a few milliseconds. Two parts, both measured:
/// <list type="bullet">
/// <item>handling events: from the event's time stamp (taken as the runtime starts delivering it) to the end of
/// AsyncLens's handler, timed for one event in <see cref="SampleEvery"/> on each thread (a clock read costs as much as
/// a handler) and extrapolated to every event the step saw; a sample longer than <see cref="MaxSampleTicks"/> was held
/// up by something else (a preemption, a GC, a lock: each measured on its own) and is left out;</item>
/// <item>waiting for AsyncLens's own locks (<see cref="EngineLocks"/>).</item>
/// </list>
/// What the runtime does for AsyncLens before an event is stamped (raising it, and adding each async method to its
/// registry of active tasks) is not measured.
/// </summary>
internal static class EngineTime
{
    public const int SampleEvery = 64;

    // Below this many samples in a step, the thread's own average stands in for the step's.
    private const int MinSamples = 8;

    public static readonly long MaxSampleTicks = TimeSpan.FromMicroseconds(10).Ticks;

    /// <summary>After an event's handler ran on <paramref name="tracker"/>'s thread; <paramref name="stamp"/> is the event's time stamp.</summary>
    public static void OnEventHandled(ThreadTracker tracker, long stamp)
    {
        if (++tracker.Events % SampleEvery != 0)
            return;
        var spent = DateTime.UtcNow.Ticks - stamp;
        if (spent < 0 || spent > MaxSampleTicks)
            return;
        tracker.SampledTicks += spent;
        tracker.Samples++;
    }

    /// <summary>
    /// AsyncLens's time in a stretch that saw <paramref name="events"/> events, of which <paramref name="samples"/>
    /// were timed for <paramref name="sampledTicks"/>, and waited <paramref name="blockedTicks"/> for its locks; the
    /// thread's totals stand in for a stretch with too few samples of its own.
    /// </summary>
    public static long Estimate(long events, long samples, long sampledTicks, long blockedTicks, long threadSamples, long threadSampledTicks)
    {
        if (samples < MinSamples)
            (samples, sampledTicks) = (threadSamples, threadSampledTicks);
        var handling = samples < MinSamples ? 0 : events * sampledTicks / samples;
        return Math.Max(0, handling) + Math.Max(0, blockedTicks);
    }
}
