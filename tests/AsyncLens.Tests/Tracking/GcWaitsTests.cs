using AsyncLens.Attribution;
using AsyncLens.Runtime.Layout;
using AsyncLens.Tests.Attribution;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Tracking;

/// <summary>
/// A thread's waits for collections it triggered to begin are the runtime's time, not its code's: what a stretch is
/// given back (made up here as the runtime's events would give them), and a computing request stretch recorded under
/// load (Ledger's Reconcile) judged with and without them.
/// </summary>
[Collection(nameof(RegistryWaitsTests))] // the runtime's events' delivery, shared with the registry's waits
public sealed class GcWaitsTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;
    private const long Step = 7101, Other = 7102;

    [Fact]
    public void Waits_for_collections_count_for_the_thread_that_triggered_them_by_the_part_inside_the_stretch()
    {
        GcWaits.Clear();
        try
        {
            GcWaits.Add(Step, 1_000 * Ms, 1_040 * Ms); // wholly inside
            GcWaits.Add(Step, 1_290 * Ms, 1_320 * Ms); // a third inside
            GcWaits.Add(Other, 1_100 * Ms, 1_200 * Ms); // another thread's collection: it went on running meanwhile
            GcWaits.Add(Step, 1_500 * Ms, 1_500 * Ms); // begun at once
            RegistryWaits.Delivered(2_000 * Ms);
            Assert.Equal(50 * Ms, GcWaits.Within(Step, from: 900 * Ms, to: 1_300 * Ms));
            Assert.Equal(100 * Ms, GcWaits.Within(Other, from: 900 * Ms, to: 1_300 * Ms));
            Assert.Equal(0, GcWaits.Within(Step, from: 1_400 * Ms, to: 1_900 * Ms));
            Assert.Equal(0, GcWaits.Within(0, from: 900 * Ms, to: 1_300 * Ms)); // a stretch whose thread is not known
        }
        finally
        {
            GcWaits.Clear();
        }
    }

    [Fact]
    public void A_computing_request_stretch_is_judged_on_a_CPU_once_its_waits_for_the_collections_it_triggered_are_off()
    {
        // Recorded (Debug, load 24, two CPU burners): the server stream computed 0.31 s on a CPU between writes that
        // completed at once, in 1.81 s of wall time; 1.06 s waiting for a CPU, 0.23 s of GC pauses, and 0.21 s left
        // over as blocked: its thread waited for the collections its allocations triggered to begin (0.63-0.81 s in
        // the traced runs like it). Judged blocked for a third of its time, the loop was not named, and the report lost.
        var request = new StretchEvidence(null, -1, AsyncState.Unknown, 0.741, Ongoing: false)
        {
            Unbracketed = true,
            Time = new TimeSplit(OnCpu: 310 * Ms, Blocked: 206 * Ms),
            Handler = new HandlerRun(StretchLocatorTests.Kickoff(nameof(Samples.HashAsync)), 7_410_000),
        };
        Assert.Null(StretchLocator.Locate(request));
        var judged = request.WithoutGcWaits(629 * Ms);
        Assert.NotNull(judged);
        Assert.Equal(new TimeSplit(310 * Ms, 0), judged.Time);
        Assert.Equal(0.741, judged.Seconds, precision: 6); // the duration reported stays as measured, as with GC pauses
        var stretch = StretchLocator.Locate(judged) ?? throw new Xunit.Sdk.XunitException("no stretch located");
        Assert.Equal(Found.Handler, stretch.How);
        Assert.Equal(HintKind.CpuBound, stretch.Hint!.Kind);
        Assert.Equal(StretchLocatorTests.Line("sample.hash.cpu"), stretch.Code.LineAt(stretch.Hint.Offset)?.Line);
    }

    [Fact]
    public void Only_blocked_time_can_have_been_waits_for_a_collection_and_a_step_slow_only_for_them_is_not_reported()
    {
        // Judged slow by 50 ms once the process's stand-stills were off; 120 ms blocked, of which 80 ms waiting for
        // collections: not slow without them. Its duration is not shortened, as for its GC pauses.
        var step = new StretchEvidence(null, -1, -1, 0.18, Ongoing: false)
        {
            SlackTicks = 50 * Ms,
            Time = new TimeSplit(OnCpu: 60 * Ms, Blocked: 120 * Ms),
        };
        Assert.Null(step.WithoutGcWaits(80 * Ms));
        var judged = step.WithoutGcWaits(30 * Ms)!;
        Assert.Equal(new TimeSplit(60 * Ms, 90 * Ms), judged.Time);
        Assert.Equal(20 * Ms, judged.SlackTicks);
        Assert.Equal(0.18, judged.Seconds, precision: 6);
        // A wait for a collection runs on to when its thread got a CPU again: no more than the stretch's blocked time.
        var computing = step with { Time = new TimeSplit(OnCpu: 160 * Ms, Blocked: 20 * Ms) };
        Assert.Equal(new TimeSplit(160 * Ms, 0), computing.WithoutGcWaits(500 * Ms)!.Time);
        // Where the split is not known, or the step still runs, nothing is taken off.
        var unknown = step with { Time = TimeSplit.Unknown };
        Assert.Same(unknown, unknown.WithoutGcWaits(80 * Ms));
        var hung = new StretchEvidence(null, -1, -1, 1.5, Ongoing: true) { Time = new TimeSplit(100 * Ms, 900 * Ms) };
        Assert.Same(hung, hung.WithoutGcWaits(500 * Ms));
    }
}
