using AsyncLens.Attribution;
using AsyncLens.Tests.Attribution;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>
/// What AsyncLens's reporter compiled within a stretch is taken off the process's compilation before a framework step
/// is judged to be warming up: recorded builds, their overlap with a stretch, and the judgement, on made-up times.
/// </summary>
[Collection(nameof(EngineCompilationTests))] // one static record of builds
public sealed class EngineCompilationTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    [Fact]
    public void A_build_counts_by_the_part_of_it_inside_the_stretch()
    {
        EngineCompilation.Clear();
        EngineCompilation.Record(start: 1_000 * Ms, end: 1_100 * Ms, jit: 40 * Ms); // wholly inside
        EngineCompilation.Record(start: 1_250 * Ms, end: 1_350 * Ms, jit: 20 * Ms); // half inside
        EngineCompilation.Record(start: 2_000 * Ms, end: 2_100 * Ms, jit: 90 * Ms); // after the stretch
        Assert.Equal(50 * Ms, EngineCompilation.During(from: 900 * Ms, to: 1_300 * Ms));
        Assert.Equal(0, EngineCompilation.During(from: 1_400 * Ms, to: 1_900 * Ms));
    }

    [Fact]
    public void Only_the_last_builds_are_kept()
    {
        EngineCompilation.Clear();
        for (var i = 0; i < 100; i++)
            EngineCompilation.Record(i * 10 * Ms, (i * 10 + 5) * Ms, 1 * Ms);
        Assert.Equal(64 * Ms, EngineCompilation.During(0, 1_000 * Ms));
    }

    [Fact]
    public void A_stretch_is_warming_up_when_the_process_compiled_a_tenth_of_it_besides_AsyncLens()
    {
        var stretch = new StretchEvidence(null, -1, -1, 0.3, Ongoing: false) { ProcessJitTicks = 40 * Ms, FromTicks = 0, ToTicks = 300 * Ms };
        Assert.True(stretch.Judged(engineJitTicks: 0).WarmUp);
        Assert.False(stretch.Judged(engineJitTicks: 15 * Ms).WarmUp); // 25 ms of 300: not a tenth
        Assert.False((stretch with { ProcessJitTicks = 0 }).Judged(0).WarmUp); // not measured (a step of the user's code)
        Assert.True((stretch with { WarmUp = true }).Judged(40 * Ms).WarmUp); // its own thread compiled: warming up anyway
    }

    [Fact]
    public void A_step_of_the_users_code_that_computed_is_not_warming_up_for_the_process_compiling()
    {
        // The runtime's tiering recompiles hot code while a CPU-heavy step runs; a step that mostly waited, waited for it.
        var users = new StretchEvidence(StretchLocatorTests.Machine(nameof(Samples.HashAsync)), 0, -2, 0.3, Ongoing: false)
        {
            ProcessJitTicks = 40 * Ms, FromTicks = 0, ToTicks = 300 * Ms,
        };
        Assert.False((users with { Time = new TimeSplit(OnCpu: 280 * Ms, Blocked: 20 * Ms) }).Judged(0).WarmUp);
        Assert.True((users with { Time = new TimeSplit(OnCpu: 30 * Ms, Blocked: 270 * Ms) }).Judged(0).WarmUp);
        Assert.True(users.Judged(0).WarmUp); // how it spent its time is not known
    }
}
