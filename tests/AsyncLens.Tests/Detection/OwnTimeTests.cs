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
}
