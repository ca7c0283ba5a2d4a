using AsyncLens.Diagnosis;
using Xunit;
using static AsyncLens.Tests.Diagnosis.SnapshotBuilder;

namespace AsyncLens.Tests.Diagnosis;

/// <summary>When trouble begins and ends for <c>asynclens watch</c> and the watchdog: signals given with their times (no clock).</summary>
public sealed class IncidentsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 5, 9, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    [Fact]
    public void The_first_signal_opens_an_incident_later_ones_extend_it_and_quiet_ends_it()
    {
        var incidents = new Incidents();

        var first = incidents.Signal(TroubleSignal.Starvation, At(0), "the thread pool added a thread");
        var again = incidents.Signal(TroubleSignal.QueueStalled, At(4), "queued");
        var stillOpen = incidents.Tick(At(13.9), out _);
        var ended = incidents.Tick(At(14), out _);
        var next = incidents.Signal(TroubleSignal.LockContention, At(20), "lock");

        Assert.NotNull(first);
        Assert.Equal((1, TroubleSignal.Starvation, "starvation"), (first.Number, first.Signal, first.SignalName));
        Assert.Null(again);
        Assert.Null(stillOpen);
        Assert.Same(first, ended);
        Assert.Equal((At(4), 2), (ended!.Ended, ended.Signals));
        Assert.Equal(2, next!.Number);
    }

    [Fact]
    public void A_dismissed_incident_is_forgotten_and_signals_are_ignored_for_the_quiet_time()
    {
        var incidents = new Incidents();
        var passing = incidents.Signal(TroubleSignal.Starvation, At(0), "burst")!;

        incidents.Dismiss(passing, At(1.5));

        Assert.Null(incidents.Open);
        Assert.Null(incidents.Signal(TroubleSignal.Starvation, At(11.4), "burst again"));
        Assert.Equal(1, incidents.Signal(TroubleSignal.Starvation, At(11.5), "starving")!.Number);
    }

    [Fact]
    public void A_wait_is_a_signal_once_it_lasts_on_a_pool_thread_and_a_lock_wait_on_any_thread()
    {
        var incidents = new Incidents();
        incidents.PoolThread(7);
        incidents.WaitStarted(7, At(0));
        incidents.WaitStarted(1, At(0)); // the main thread, waiting for the app: not the pool's
        incidents.WaitStarted(8, At(0)); // not known as a pool thread either

        Assert.Null(incidents.Tick(At(0.9), out var early));
        Assert.Null(early);
        incidents.Tick(At(1), out var opened);
        Assert.Equal((TroubleSignal.LongWait, "1 pool thread in a blocking wait for more than 1 s"), (opened!.Signal, opened.Detail));

        var locks = new Incidents();
        locks.ContentionStarted(12, At(0));
        locks.ContentionEnded(12);
        locks.Tick(At(5), out var none);
        locks.ContentionStarted(12, At(5));
        locks.Tick(At(6), out var contended);
        Assert.Null(none);
        Assert.Equal("1 thread waiting to enter a lock for more than 1 s", contended!.Detail);
    }

    [Fact]
    public void Work_queued_with_none_completed_in_a_sample_is_a_signal_and_a_busy_queue_is_not()
    {
        Assert.Null(new Incidents().PoolSample(queued: 500, completed: 12_000, At(1)));
        Assert.Null(new Incidents().PoolSample(queued: 0, completed: 0, At(1)));
        Assert.Equal("1,200 work items queued to the thread pool and none completed in a second",
            new Incidents().PoolSample(queued: 1200, completed: 0, At(1))!.Detail);
    }

    [Fact]
    public void An_incident_is_written_with_its_times_signal_and_the_doctors_json()
    {
        // The snapshot is taken at 06:00:00Z: 0.75 s after the signal.
        var incident = new Incidents().Signal(TroubleSignal.Starvation, new DateTimeOffset(2026, 12, 5, 5, 59, 59, 250, TimeSpan.Zero), "the thread pool added a thread (now 9) because queued work was not progressing")!;
        var diagnosis = AsyncLens.Diagnosis.Doctor.Diagnose(new SnapshotBuilder().Thread(6, IdleWorker).Build());
        var text = new StringWriter();
        var json = new StringWriter();
        var doctor = new StringWriter();

        IncidentReport.WriteText(text, incident, diagnosis);
        IncidentReport.WriteJson(json, incident, diagnosis);
        DoctorReport.WriteJson(doctor, diagnosis);

        Assert.StartsWith("incident 1 began 2026-12-05T05:59:59.250Z: starvation: the thread pool added a thread (now 9) because queued work was not progressing\n"
            + "diagnosed 2026-12-05T06:00:00.000Z, 0.8 s after it began:\nasynclens doctor: healthy (pid 4242, 2026-12-05T06:00:00Z)\n", text.ToString());
        Assert.Equal("{\"incident\":1,\"began\":\"2026-12-05T05:59:59.250Z\",\"signal\":\"starvation\",\"detail\":\"the thread pool added a thread (now 9) because queued work was not progressing\","
            + "\"diagnosed\":\"2026-12-05T06:00:00.000Z\",\"diagnosis\":" + doctor.ToString().TrimEnd('\n') + "}\n", json.ToString());
    }
}
