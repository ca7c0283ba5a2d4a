using AsyncLens.Detection;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>What is taken off a step's wall time as not the code's: AsyncLens's own work, compilation, waits for a CPU.</summary>
public sealed class OwnTimeTests
{
    private const long Us = TimeSpan.TicksPerMillisecond / 1000;

    [Fact]
    public void AsyncLenss_handling_is_the_events_times_the_steps_sampled_average_plus_its_lock_waits()
    {
        // A step that created 10,000 tasks: 20,003 events, 312 timed at 0.8 µs on average, 2 ms waiting for a lock.
        Assert.Equal(20_003 * 8 * Us / 10 + 20_000 * Us, EngineTime.Estimate(20_003, 312, 312 * 8 * Us / 10, 20_000 * Us, 1_000, 1_000 * Us));
    }

    [Fact]
    public void With_few_samples_of_its_own_a_step_takes_the_threads_average_and_with_none_at_all_nothing()
    {
        Assert.Equal(40 * 2 * Us, EngineTime.Estimate(40, 0, 0, 0, threadSamples: 50, threadSampledTicks: 100 * Us));
        Assert.Equal(0, EngineTime.Estimate(40, 0, 0, 0, threadSamples: 3, threadSampledTicks: 100 * Us));
    }

    [Fact]
    public void Compilation_is_counted_as_waiting_for_a_cpu_as_often_as_the_rest_of_the_step()
    {
        // 400 ms, of which 200 ms waiting for a CPU: half of the 40 ms of compilation was waiting too.
        Assert.Equal(200 + 20, SlowSteps.RuntimesShare(own: 400, jit: 40, preempted: 200));
        Assert.Equal(40, SlowSteps.RuntimesShare(own: 400, jit: 40, preempted: 0));
        Assert.Equal(400, SlowSteps.RuntimesShare(own: 400, jit: 40, preempted: 400));
    }

    [Fact]
    public void Compilation_waits_for_a_cpu_as_often_as_the_stretch_did_while_it_could_run_not_while_it_slept()
    {
        // 400 ms: 100 ms compiling, of which 50 waiting for a CPU, then a 300 ms sleep (never waiting for one). On a CPU
        // 50 ms: the compilation's share is 50 ms, not 100 * 350 / 400.
        Assert.Equal(50 + 50, SlowSteps.RuntimesShare(own: 400, jit: 100, preempted: 50, onCpu: 50));
        Assert.Equal(50 + 87, SlowSteps.RuntimesShare(own: 400, jit: 100, preempted: 50));
    }

    [Fact]
    public void Waits_for_a_cpu_in_a_long_nested_step_are_taken_off_as_read_not_in_proportion_to_its_time()
    {
        const long Ms = TimeSpan.TicksPerMillisecond;
        // 4 s of wall time: the step's own 1 s (750 ms of it waiting for a CPU, 250 ms computing), then a nested step of
        // 3 s that waited 2.96 s. In proportion to the time the step would have waited 3.71 s / 4: 928 ms, leaving it 72 ms.
        var frame = new Frame { WaitedStart = 0, ChildTicks = 3_000 * Ms }; // started at 0
        Assert.Equal(927_500 * Ms / 1000, SlowSteps.Preempted(frame, runDelayNow: 3_710 * Ms, end: 4_000 * Ms));
        (frame.ChildTicksMeasured, frame.ChildWaited) = (3_000 * Ms, 2_960 * Ms);
        Assert.Equal(750 * Ms, SlowSteps.Preempted(frame, runDelayNow: 3_710 * Ms, end: 4_000 * Ms));
        // Nested steps too short to be read (here 1 s of the 3 s) share the rest of the waits in proportion to their time.
        (frame.ChildTicksMeasured, frame.ChildWaited) = (2_000 * Ms, 1_960 * Ms);
        Assert.Equal(1_750 * Ms / 2, SlowSteps.Preempted(frame, runDelayNow: 3_710 * Ms, end: 4_000 * Ms));
    }
}
