using AsyncLens.Attribution;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>
/// A step's waits for the runtime's registry of active tasks, a lock only AsyncLens's debug mode makes the runtime take,
/// are AsyncLens's time: the runtime's contention events as they come (made up here), what a stretch is given back, and
/// the judgement of a stretch that was slow only for them.
/// </summary>
[Collection(nameof(RegistryWaitsTests))] // one static record of waits
public sealed class RegistryWaitsTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;
    private const long Step = 7001, Pool = 7002;

    [Fact]
    public void Waits_on_the_registry_count_for_their_own_thread_by_the_part_inside_the_stretch()
    {
        var registry = new Dictionary<int, Task>();
        var other = new object();
        RegistryWaits.Clear();
        RegistryWaits.Watch(registry);
        try
        {
            Wait(Step, registry, from: 1_000 * Ms, to: 1_080 * Ms); // wholly inside
            Wait(Step, registry, from: 1_280 * Ms, to: 1_340 * Ms); // a third inside
            Wait(Step, other, from: 1_100 * Ms, to: 1_200 * Ms); // the app's own lock: its time
            Wait(Pool, registry, from: 1_000 * Ms, to: 1_150 * Ms); // another thread's
            RegistryWaits.Delivered(2_000 * Ms);
            Assert.Equal(100 * Ms, RegistryWaits.Within(Step, from: 900 * Ms, to: 1_300 * Ms));
            Assert.Equal(150 * Ms, RegistryWaits.Within(Pool, from: 900 * Ms, to: 1_300 * Ms));
            Assert.Equal(0, RegistryWaits.Within(Step, from: 1_400 * Ms, to: 1_900 * Ms));
        }
        finally
        {
            RegistryWaits.Watch(null);
            RegistryWaits.Clear();
        }
    }

    [Fact]
    public void A_stretch_slow_only_for_its_registry_waits_is_not_reported_and_one_slow_without_them_is_shorter()
    {
        // 0.18 s of its own time, 50 ms past the threshold once the process's stand-stills are off; 120 ms blocked.
        var stretch = new StretchEvidence(null, -1, -1, 0.18, Ongoing: false)
        {
            SlackTicks = 50 * Ms,
            Time = new TimeSplit(OnCpu: 60 * Ms, Blocked: 120 * Ms),
        };
        Assert.Null(stretch.WithoutRegistryWaits(80 * Ms));
        var shorter = stretch.WithoutRegistryWaits(30 * Ms);
        Assert.NotNull(shorter);
        Assert.Equal(0.15, shorter.Seconds, precision: 6);
        Assert.Equal(new TimeSplit(60 * Ms, 90 * Ms), shorter.Time);
        Assert.Same(stretch, stretch.WithoutRegistryWaits(0));
    }

    [Fact]
    public void Only_a_stretchs_blocked_time_can_have_been_registry_waits_and_a_stretch_not_judged_slow_is_left_alone()
    {
        // A wait's measured duration runs on to when its thread got a CPU again: that part was a wait for a CPU, already off.
        var computing = new StretchEvidence(null, -1, -1, 0.16, Ongoing: false)
        {
            SlackTicks = 50 * Ms,
            Time = new TimeSplit(OnCpu: 140 * Ms, Blocked: 20 * Ms),
        };
        Assert.Equal(0.14, computing.WithoutRegistryWaits(200 * Ms)!.Seconds, precision: 6);
        var hung = new StretchEvidence(null, -1, -1, 1.5, Ongoing: true);
        Assert.Same(hung, hung.WithoutRegistryWaits(500 * Ms));
    }

    private static void Wait(long thread, object locked, long from, long to)
    {
        RegistryWaits.OnStart(thread, RegistryWaits.AddressOf(locked), from);
        RegistryWaits.OnStop(thread, to - from, to);
    }
}
